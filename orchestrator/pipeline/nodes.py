"""The pipeline's steps. Each is a small async ``(state, runtime) -> partial state`` function
that also appends one or more :class:`~orchestrator.trace.TraceEvent`s."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from langgraph.runtime import Runtime

from orchestrator.aggregation import Candidate
from orchestrator.config import Config
from orchestrator.errors import ExpertError, ExpertUnavailable, InvalidRequest
from orchestrator.pipeline.context import PipelineContext
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.state import ExpertFailure, PipelineState
from orchestrator.trace import TraceEvent, timed_event

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
    to its ``router.category_experts`` list (intersected with the request's own list)."""
    opts = options
    allowed = list(opts.experts) if opts.experts else None
    if opts.category is not None:
        pinned = config.router.category_experts.get(opts.category)
        if pinned:
            allowed = [e for e in pinned if allowed is None or e in allowed] or pinned
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

    return await gate_step(state, runtime.context, last_user_text(state.messages), _expert_event)


async def dispatch(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Call the chosen experts concurrently; a failed one is replaced by the next-ranked spare."""
    ctx = runtime.context
    decision = state.decision
    # An expert whose draft the retrieval gate kept as its answer is not called again.
    drafted = [c.expert for c in state.completions]
    chosen = [e for e in decision.chosen if e not in drafted]
    # Experts the router excluded (not allowed, over budget) score -inf and are never spares.
    spares = [e.name for e in decision.experts if e.name not in chosen and e.name not in drafted and math.isfinite(e.score)][: ctx.max_fallbacks]
    failures: list[ExpertFailure] = []
    errors: list[BaseException] = []
    events: list[TraceEvent] = []

    async def consult(expert: str | None) -> Any:
        while expert is not None:
            started, t0 = time.time(), time.perf_counter()
            try:
                completion = await ctx.call(expert, state.messages, state.params)
            except (ExpertError, TimeoutError) as exc:
                errors.append(exc)
                failures.append(ExpertFailure(expert, str(exc), type(exc).__name__))
                events.append(TraceEvent("expert", {"ok": False, "error": str(exc)}, started, time.perf_counter() - t0, expert=expert))
                expert = spares.pop(0) if spares else None
                continue
            events.append(_expert_event(completion, started, time.perf_counter() - t0))
            return completion
        return None

    with timed_event("dispatch", chosen=chosen) as summary:
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
    return {"completions": completions, "failures": failures, "trace": [*events, summary]}


def _raise_client_error(errors: list[BaseException]) -> None:
    """When every expert rejected the request itself (HTTP 4xx), it is the client's error, not an outage."""
    statuses = [getattr(e, "status_code", None) for e in errors]
    if errors and all(s is not None and 400 <= s < 500 and s not in (408, 429) for s in statuses):
        raise errors[0]


def _expert_event(completion: Any, started: float, duration: float) -> TraceEvent:
    decision = {"ok": True, "finish_reason": completion.finish_reason, "attempts": completion.attempts}
    # What the expert call itself took vs time spent queued in the scheduler before it.
    decision["queue_ms"] = round(max(0.0, duration - completion.latency_s) * 1000, 3)
    if completion.ttft_s is not None:
        decision["ttft_ms"] = round(completion.ttft_s * 1000, 3)
    return TraceEvent(
        "expert",
        decision,
        started,
        duration,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cost_usd=completion.cost_usd,
        expert=completion.expert,
    )


async def aggregate(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    ctx = runtime.context
    mode = ctx.aggregator.mode_for(state.options.category or state.decision.category, state.options.aggregation)
    candidates = [Candidate(c.expert, c.text) for c in state.completions]
    with timed_event("aggregate", requested_mode=mode) as event:
        try:
            result = await ctx.aggregator.aggregate(
                state.messages, candidates, mode=mode, aggregator=state.decision.aggregator, complete=ctx.call, params=state.params
            )
        except (ExpertError, TimeoutError) as exc:
            # The aggregator failing must not lose the experts' work: fall back to voting.
            result = await ctx.aggregator.aggregate(state.messages, candidates, mode="vote")
            result.notes.append(f"aggregator {state.decision.aggregator} failed ({exc}); fell back to {result.mode}")
    event.decision.update(result.to_dict())
    event.expert = result.aggregator
    event.prompt_tokens = sum(c.prompt_tokens for c in result.calls)
    event.completion_tokens = sum(c.completion_tokens for c in result.calls)
    event.cost_usd = sum(c.cost_usd for c in result.calls)
    return {"aggregation": result, "trace": [event]}


async def verify(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    """Pass-through until verification lands; records whether it was asked for."""
    wanted = state.options.verify if state.options.verify is not None else runtime.context.config.verification.enabled
    note = "requested but not available yet" if wanted else "disabled"
    return {"trace": [TraceEvent("verify", {"verification": note})]}


async def respond(state: PipelineState, runtime: Runtime[PipelineContext]) -> dict[str, Any]:
    result = state.aggregation
    assert result is not None  # the graph always aggregates first
    decision = {"mode": result.mode, "experts": [c.expert for c in state.completions], "degraded": bool(state.failures)}
    return {"answer": result.text, "trace": [TraceEvent("respond", decision)]}
