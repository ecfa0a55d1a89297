"""The pipeline's steps. Each is a small async ``(state, runtime) -> partial state`` function
that also appends one or more :class:`~orchestrator.trace.TraceEvent`s.

On a streamed request (``state.stream``) the node that produces the final text sends its tokens
through LangGraph's stream writer as they arrive: ``dispatch`` when one expert answers,
``aggregate`` when the aggregator synthesises. Vote and consensus need every candidate first,
so their answer goes out whole after aggregation, and the ``respond`` event says so.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any

from langgraph.runtime import Runtime

from orchestrator.aggregation import Candidate
from orchestrator.config import Config
from orchestrator.errors import ExpertError, ExpertUnavailable, InvalidRequest
from orchestrator.experts.types import Completion
from orchestrator.pipeline.context import PipelineContext
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.state import ExpertFailure, PipelineState
from orchestrator.trace import TraceEvent, expert_event, failed_expert_event, timed_event

__all__ = ["aggregate", "dispatch", "last_user_text", "respond", "retrieval_gate", "route", "route_kwargs", "verify"]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user turn (content parts joined), which is what gets routed."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return content or ""
    raise InvalidRequest("the conversation has no user message to route", param="messages")


def route_kwargs(options: RequestOptions, config: Config) -> dict[str, Any]:
    """``router.route`` keyword arguments for a request; a pinned category restricts the experts
    to its ``router.category_experts`` list, intersected with the request's own list (an empty
    intersection is the client's error, never silently widened)."""
    opts = options
    allowed = list(opts.experts) if opts.experts else None
    if opts.category is not None:
        pinned = config.router.category_experts.get(opts.category)
        if pinned:
            kept = [e for e in pinned if allowed is None or e in allowed]
            if not kept:
                raise InvalidRequest(
                    f"orchestrator.experts ({', '.join(opts.experts or [])}) excludes every expert of category "
                    f"{opts.category!r} ({', '.join(pinned)}): allow at least one of them, or route with router/auto",
                    param="orchestrator.experts",
                )
            allowed = kept
    return {"k": opts.k, "cost_weight": opts.cost_weight, "budget": opts.budget, "allowed_experts": allowed}


async def route(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Classify and recruit with one router call; two trace events share its time."""
    ctx = runtime.context
    t0 = time.perf_counter()
    decision = await ctx.route(last_user_text(state.messages), **route_kwargs(state.options, ctx.config))
    elapsed = time.perf_counter() - t0
    if not decision.chosen:
        raise ExpertUnavailable("none", f"the router chose no expert ({decision.fallback_reason or 'no reason given'})")
    probs = dict(sorted(dict(decision.category_probs).items(), key=lambda kv: -kv[1])[:3])
    classify = TraceEvent("classify", {"category": decision.category, "top_categories": probs}, duration_s=elapsed)
    recruit = TraceEvent(
        "recruit",
        {
            "skills": list(decision.skills)[:8],
            "ranked": [{"expert": e.name, "score": round(float(e.score), 4)} for e in decision.experts[:5] if math.isfinite(e.score)],
            "k": decision.k,
            "chosen": list(decision.chosen),
            "aggregator": decision.aggregator,
            "fallback_reason": decision.fallback_reason,
            "shares_time_with": "classify",
        },
    )
    return {"decision": decision, "trace": [classify, recruit]}


async def retrieval_gate(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Decide whether (and how much) to retrieve; put the passages into the prompt (see ``orchestrator.retrieval.node``)."""
    from orchestrator.retrieval.node import gate_step

    return await gate_step(state, runtime.context, last_user_text(state.messages))


async def dispatch(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Call the chosen experts concurrently; a failed one is replaced by the next-ranked spare.

    A streamed request answered by one expert streams that expert's tokens as they arrive; a
    failure before its first token still falls back to a spare, one after it ends the stream."""
    ctx = runtime.context
    decision = state.decision
    assert decision is not None  # the graph always routes first
    if state.options.escalation is not None:
        return await _dispatch_cascade(state, ctx)
    # An expert whose draft the retrieval gate kept as its answer is not called again. The draft
    # is always the top-ranked chosen expert's, so with the reducer appending it stays first.
    drafted = [c.expert for c in state.completions]
    chosen = [e for e in decision.chosen if e not in drafted]
    # Experts the router excluded (not allowed, over budget) score -inf and are never spares.
    spares = [e.name for e in decision.experts if e.name not in chosen and e.name not in drafted and math.isfinite(e.score)][: ctx.max_fallbacks]
    failures: list[ExpertFailure] = []
    errors: list[BaseException] = []
    events: list[TraceEvent] = []
    live = state.stream and ctx.stream is not None and len(chosen) == 1 and not _buffered(state, ctx)
    streamed: list[str] = []

    async def ask(expert: str) -> Completion:
        if not live:
            return await ctx.call(expert, state.messages, state.params)
        assert ctx.stream is not None
        stream = ctx.stream(expert, state.messages, state.params)
        async for delta in stream:
            if not streamed:
                streamed.append(expert)
            runtime.stream_writer({"delta": delta, "source": "expert", "expert": expert})
        return stream.completion

    async def consult(expert: str | None) -> Completion | None:
        while expert is not None:
            started, t0 = time.time(), time.perf_counter()
            try:
                completion = await ask(expert)
            except (ExpertError, TimeoutError) as exc:
                if streamed:
                    raise  # the client already has this expert's tokens: no silent switch mid-answer
                errors.append(exc)
                failures.append(ExpertFailure(expert, str(exc), type(exc).__name__))
                events.append(failed_expert_event(expert, exc, started, time.perf_counter() - t0))
                expert = spares.pop(0) if spares else None
                continue
            events.append(expert_event(completion, started, time.perf_counter() - t0))
            return completion
        return None

    with timed_event("dispatch", chosen=chosen, streamed=live) as summary:
        results = await asyncio.gather(*(consult(e) for e in chosen))
    completions = [c for c in results if c is not None]
    answered = [c.expert for c in completions]
    summary.decision.update(
        answered=answered,
        failed=[f.expert for f in failures],
        fallbacks=[e for e in answered if e not in chosen],
        degraded=bool(failures),
    )
    if not completions and not drafted:
        _raise_client_error(errors)
        tried = ", ".join(f.expert for f in failures)
        raise ExpertUnavailable(tried or "none", "every routed expert failed: " + "; ".join(f.error for f in failures))
    # Keep rank order so ties in aggregation go to the better expert.
    rank = {name: i for i, name in enumerate(e.name for e in decision.experts)}
    completions.sort(key=lambda c: rank.get(c.expert, len(rank)))
    update: dict[str, Any] = {"completions": completions, "failures": failures, "trace": [*events, summary]}
    if streamed:
        update["streamed"] = "expert"
    return update


def _buffered(state: PipelineState, ctx: PipelineContext) -> bool:
    """Verification may replace the answer, so a stream waits for it where it can run: always,
    or on auto for an ensemble (disagreement) or a high-stakes category. Elsewhere the tokens go
    out live and the verify step skips an answer already streamed (its trace says so)."""
    when, _ = state.options.verify_plan(ctx.config.verification.enabled)
    if when == "off":
        return False
    decision = state.decision
    category = state.options.category or (decision.category if decision is not None else None)
    ensemble = decision is not None and len(decision.chosen) > 1
    return when == "always" or ensemble or category in ctx.config.verification.high_stakes_categories


async def _dispatch_cascade(state: PipelineState, ctx: PipelineContext) -> dict[str, Any]:
    """Escalation instead of a fixed expert set (orchestrator.escalation): cheapest trusted first."""
    from orchestrator.escalation.runtime import escalate, summary_event

    opts = state.options.escalation
    out = await escalate(state.decision, state.messages, state.params, ctx.call, opts, budget=state.options.budget)
    failures = [ExpertFailure(*f) for f in out.failures]
    return {"completions": out.completions, "failures": failures, "trace": [*out.events, summary_event(out, opts)]}


def _raise_client_error(errors: list[BaseException]) -> None:
    """When every expert rejected the request itself (HTTP 4xx), it is the client's error, not an outage."""
    statuses = [getattr(e, "status_code", None) for e in errors]
    if errors and all(s is not None and 400 <= s < 500 and s not in (408, 429) for s in statuses):
        raise errors[0]


async def aggregate(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    ctx = runtime.context
    decision = state.decision
    assert decision is not None
    mode = ctx.aggregator.mode_for(state.options.category or decision.category, state.options.aggregation)
    if state.options.escalation is not None and state.options.aggregation is None:
        mode = "best"  # the cascade already merged its answers (its own rule, as replayed offline): its answer comes first
    candidates = [Candidate(c.expert, c.text) for c in state.completions]
    live = state.stream and ctx.stream is not None and state.streamed is None and not _buffered(state, ctx)
    streamed: list[bool] = []

    def on_delta(delta: str) -> None:
        streamed.append(True)
        runtime.stream_writer({"delta": delta, "source": "aggregator", "expert": decision.aggregator})

    with timed_event("aggregate", requested_mode=mode) as event:
        try:
            result = await ctx.aggregator.aggregate(
                state.messages, candidates, mode=mode, aggregator=decision.aggregator, complete=ctx.call, params=state.params,
                stream=ctx.stream if live else None, on_delta=on_delta if live else None,
            )
        except (ExpertError, TimeoutError) as exc:
            if streamed:
                raise  # the client already has part of the synthesis
            # The aggregator failing must not lose the experts' work: fall back to voting.
            result = await ctx.aggregator.aggregate(state.messages, candidates, mode="vote")
            result.notes.append(f"aggregator {decision.aggregator} failed ({exc}); fell back to {result.mode}")
    event.decision.update(result.to_dict())
    event.expert = result.aggregator
    event.prompt_tokens = sum(c.prompt_tokens for c in result.calls)
    event.completion_tokens = sum(c.completion_tokens for c in result.calls)
    event.cost_usd = sum(c.cost_usd for c in result.calls)
    update: dict[str, Any] = {"aggregation": result, "trace": [event]}
    if streamed:
        update["streamed"] = "aggregator"
    return update


async def verify(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Debate-style verification where the experts disagree (see ``orchestrator/verification``)."""
    from orchestrator.pipeline.verify_step import run_verification

    if state.streamed is not None:
        return {"trace": [TraceEvent("verify", {"status": "skipped", "reason": f"the {state.streamed}'s answer was already streamed"})]}
    return await run_verification(state, runtime.context)


def respond(state: Mapping[str, Any]) -> tuple[str, TraceEvent]:
    """The last step, on the graph's final state: the answer (the verifier's when it replaced the
    aggregate) and the ``respond`` trace event. The runner applies it after the graph rather than
    as a node: it reads the state and decides nothing, and a LangGraph superstep costs ~0.3 ms of
    CPU per request (docs/benchmarks.md, issue 11)."""
    result = state["aggregation"]
    assert result is not None  # the graph always aggregates
    failures, streamed = state.get("failures") or [], state.get("streamed")
    decision: dict[str, Any] = {"mode": result.mode, "experts": [c.expert for c in state.get("completions") or []], "degraded": bool(failures)}
    verified = state.get("verification")
    text = verified.text if verified is not None and verified.text is not None else result.text
    if verified is not None and verified.ran:
        decision["verification"] = verified.status
    if state.get("stream"):
        # Tokens went out as produced, or the answer needed every candidate (vote, consensus,
        # verification) and goes out whole now.
        decision["stream"] = f"{streamed} tokens as generated" if streamed else f"buffered until {result.mode} finished"
    return text, TraceEvent("respond", decision)
