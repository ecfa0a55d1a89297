"""The pipeline's ``retrieval_gate`` step: what it adds to the state and to the trace."""

from __future__ import annotations

import time
from typing import Any

from orchestrator.errors import ExpertError
from orchestrator.trace import Trace, TraceEvent, expert_event

__all__ = ["gate_step", "retrieval_sources"]


async def gate_step(state: Any, ctx: Any, query: str) -> dict[str, Any]:
    """Run the retriever for one request; returns the state update (messages with passages, a kept
    draft as a completion, the outcome) and its trace events. Never raises for retrieval trouble."""
    options = state.options
    retriever = ctx.retriever
    if retriever is None:
        note = "disabled" if options.retrieval in (None, "never") else "requested but disabled in experts.yaml (retrieval.enabled)"
        return {"trace": [TraceEvent("retrieval", {"retrieval": note})]}
    started, t0 = time.time(), time.perf_counter()
    events: list[TraceEvent] = []
    calls: list[tuple[Any, float, float]] = []

    async def call(expert: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        # The same dispatch interface as the experts' answers; each call gets its own trace event.
        c_started, c_t0 = time.time(), time.perf_counter()
        completion = await ctx.call(expert, messages, params)
        calls.append((completion, c_started, time.perf_counter() - c_t0))
        return completion

    try:
        outcome = await retriever.run(
            query, state.messages, mode=options.retrieval, index=options.index, decision=state.decision, call=call, params=state.params,
        )
    except (ExpertError, TimeoutError) as exc:
        # A failed draft or reasoning step: the experts still answer, without retrieval.
        event = TraceEvent("retrieval", {"retrieved": False, "degraded": True, "error": f"expert call during retrieval failed: {exc}"}, started, time.perf_counter() - t0)
        return {"trace": [*_expert_events(calls), event]}
    events.extend(_expert_events(calls))
    events.append(TraceEvent("retrieval", outcome.to_dict(), started, time.perf_counter() - t0))
    update: dict[str, Any] = {"retrieval": outcome, "trace": events}
    if outcome.messages is not None:
        update["messages"] = outcome.messages
    if outcome.draft is not None:
        update["completions"] = [outcome.draft]
    return update


def _expert_events(calls: list[tuple[Any, float, float]]) -> list[TraceEvent]:
    out = []
    for completion, started, duration in calls:
        ev = expert_event(completion, started, duration)
        ev.decision["purpose"] = "retrieval"
        out.append(ev)
    return out


def retrieval_sources(trace: Trace) -> list[dict[str, Any]] | None:
    """The numbered sources the answer may cite, from a request's trace (None: nothing retrieved)."""
    for event in trace.steps("retrieval"):
        if event.decision.get("sources"):
            return event.decision["sources"]
    return None
