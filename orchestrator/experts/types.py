"""Value types the expert client returns: one :class:`Completion` per call, with its trace."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Completion", "RawCompletion", "StreamPart", "TraceEvent", "Usage", "mean_token_logprob"]


def mean_token_logprob(logprobs: Any) -> float | None:
    """Mean of the token log-probabilities in OpenAI's ``{"content": [{"logprob": ...}, ...]}``
    (or an object with ``.content``, or a plain list of floats); None when there are none."""
    if isinstance(logprobs, dict):
        logprobs = [t.get("logprob") for t in logprobs.get("content") or [] if isinstance(t, dict)]
    elif logprobs is not None and hasattr(logprobs, "content"):
        logprobs = [getattr(t, "logprob", None) for t in logprobs.content or []]
    values = [float(v) for v in logprobs or [] if isinstance(v, int | float) and math.isfinite(v)]
    return sum(values) / len(values) if values else None


@dataclass
class TraceEvent:
    """Something worth knowing that happened while serving a call.

    ``kind`` is one of ``retry``, ``fallback``, ``breaker_open``, ``breaker_probe``,
    ``breaker_closed``, ``timeout``, ``error`` (the client), ``queue``, ``wake``, ``sleep`` (the
    scheduler and residency); ``at`` is the monotonic clock of whoever recorded it.
    """

    kind: str
    expert: str
    detail: str
    at: float


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them (OpenAI/vLLM ``usage``)."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class StreamPart:
    """One useful piece of a transport's stream: a content delta, the finish reason, the usage
    report (vLLM's final ``stream_options.include_usage`` chunk), or several at once."""

    content: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[dict] | None = None  # OpenAI tool-call deltas, passed through untouched
    logprobs: dict | None = None  # the choice's ``logprobs`` object, passed through untouched

    @property
    def has_output(self) -> bool:
        return bool(self.content or self.tool_calls or self.logprobs)


@dataclass
class RawCompletion:
    """What one transport returns for one successful HTTP call (before cost and trace)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None = None
    tool_calls: list[dict] | None = None
    logprobs: dict | None = None


@dataclass
class Completion:
    """One expert's answer with its usage, cost, latency and everything that went wrong on the way."""

    expert: str
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    ttft_s: float | None
    cost_usd: float
    attempts: int
    events: list[TraceEvent] = field(default_factory=list)
    queue_s: float = 0.0
    """Time spent waiting for the scheduler to grant the call a slot (0 when called directly)."""
    tool_calls: list[dict] | None = None  # the expert's own tool calls (OpenAI shape), when it made any
    logprobs: dict | None = None  # the expert's ``choices[0].logprobs``, when asked for

    @property
    def mean_logprob(self) -> float | None:
        """Mean token log-probability of the answer (a confidence signal), when ``logprobs`` came back."""
        return mean_token_logprob(self.logprobs)

    @property
    def ok(self) -> bool:
        """False for the placeholder the offline batch records for a request that failed."""
        return self.finish_reason != "error"
