"""Value types the expert client returns: one :class:`Completion` per call, with its trace."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Completion", "RawCompletion", "StreamPart", "TraceEvent", "Usage"]


@dataclass
class TraceEvent:
    """Something worth knowing that happened while serving a call.

    ``kind`` is one of ``retry``, ``fallback``, ``breaker_open``, ``timeout``, ``error``,
    ``wake``, ``sleep``; ``at`` is the client's monotonic clock.
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


@dataclass
class RawCompletion:
    """What one transport returns for one successful HTTP call (before cost and trace)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None = None
    mean_logprob: float | None = None  # mean token log-probability, when the request asked for logprobs


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
    mean_logprob: float | None = None  # mean token log-probability (requested with ``logprobs: true``)

    @property
    def ok(self) -> bool:
        """False for the placeholder the offline batch records for a request that failed."""
        return self.finish_reason != "error"
