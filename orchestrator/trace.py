"""The per-request trace: one event per pipeline step with its decision, time, tokens and cost.

Pipeline nodes return ``{"trace": [event]}``; the state's reducer appends, so concurrent
branches never overwrite each other. The gateway returns the trace on request, logs its
summary, and feeds its numbers to Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trace", "TraceEvent", "call_events", "expert_event", "failed_expert_event", "timed_event"]


@dataclass
class TraceEvent:
    """What one step decided and what it cost."""

    step: str
    decision: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    expert: str | None = None

    def finish(self, started_perf: float) -> TraceEvent:
        self.duration_s = time.perf_counter() - started_perf
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "started_at": round(self.started_at, 6),
            "duration_ms": round(self.duration_s * 1000, 3),
            "decision": self.decision,
        }
        if self.expert is not None:
            out["expert"] = self.expert
        if self.prompt_tokens or self.completion_tokens or self.cost_usd:
            out.update(
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                cost_usd=round(self.cost_usd, 10),
            )
        return out


class timed_event:  # noqa: N801 - reads as a statement: `with timed_event("classify") as ev:`
    """Context manager that creates a :class:`TraceEvent` and stamps its duration on exit."""

    def __init__(self, step: str, **decision: Any):
        self.event = TraceEvent(step=step, decision=dict(decision))
        self._t0 = 0.0

    def __enter__(self) -> TraceEvent:
        self._t0 = time.perf_counter()
        return self.event

    def __exit__(self, *exc: object) -> None:
        self.event.finish(self._t0)


@dataclass
class Trace:
    """All events of one request, in the order they were recorded."""

    request_id: str
    events: list[TraceEvent] = field(default_factory=list)

    @classmethod
    def of(cls, request_id: str, events: Iterable[TraceEvent]) -> Trace:
        return cls(request_id, list(events))

    def steps(self, step: str) -> list[TraceEvent]:
        return [e for e in self.events if e.step == step]

    @property
    def prompt_tokens(self) -> int:
        return sum(e.prompt_tokens for e in self.events)

    @property
    def completion_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.events)

    @property
    def cost_usd(self) -> float:
        return sum(e.cost_usd for e in self.events)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "events": [e.to_dict() for e in self.events],
        }


def call_events(events: list[Any]) -> dict[str, Any]:
    """One expert call's own story (queue wait, swaps, retries, breaker, fallbacks), oldest first."""
    return {"events": [{"kind": e.kind, "detail": e.detail} for e in events]} if events else {}


def expert_event(completion: Any, started: float, duration: float) -> TraceEvent:
    """The ``expert`` trace event of one answered call (an ``orchestrator.experts`` Completion), the
    same wherever the call was made: dispatch, retrieval, the cascade, pass-through."""
    decision: dict[str, Any] = {"ok": True, "finish_reason": completion.finish_reason, "attempts": completion.attempts}
    # Time queued in the scheduler (for a slot, and for any swap) vs the expert call itself.
    decision["queue_ms"] = round(completion.queue_s * 1000, 3)
    if completion.ttft_s is not None:
        decision["ttft_ms"] = round(completion.ttft_s * 1000, 3)
    decision.update(call_events(completion.events))
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


def failed_expert_event(expert: str, error: BaseException, started: float, duration: float) -> TraceEvent:
    """The ``expert`` trace event of a call that failed (an ``ExpertError`` carries the call's own
    story, a bare timeout none), the same wherever the call was made: dispatch, the cascade."""
    return TraceEvent("expert", {"ok": False, "error": str(error), **call_events(getattr(error, "events", None) or [])}, started, duration, expert=expert)
