"""Run settings shared by every request: the router, the way to reach experts, the aggregator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.aggregation import Aggregator
from orchestrator.config import Config
from orchestrator.experts.types import Completion
from orchestrator.router.decision import RoutingDecision

__all__ = ["CallFn", "CompletionStream", "PipelineContext", "RouteFn", "StreamFn"]

CallFn = Callable[[str, list[dict[str, Any]], dict[str, Any]], Awaitable[Completion]]
"""``call(expert, messages, params) -> Completion``: ``Scheduler.submit`` (online and offline)."""


class CompletionStream(Protocol):
    """A streamed expert call (``ExpertStream``): iterate for deltas, then read ``completion``."""

    def __aiter__(self) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...

    @property
    def completion(self) -> Completion: ...


StreamFn = Callable[[str, list[dict[str, Any]], dict[str, Any]], CompletionStream]
"""``stream(expert, messages, params) -> ExpertStream``: ``Scheduler.stream``."""


class RouteFn(Protocol):
    """Routes one prompt; the runner wraps ``router.route`` in a micro-batcher."""

    async def __call__(self, prompt: str, **kwargs: Any) -> RoutingDecision: ...


@dataclass(kw_only=True)
class PipelineContext:
    config: Config
    route: RouteFn
    call: CallFn
    stream: StreamFn | None = None
    """Streamed expert calls; without it a streamed request is answered once complete."""
    aggregator: Aggregator = field(default_factory=Aggregator)
    max_fallbacks: int = 2
    """How many next-ranked experts may replace failed ones in one request."""
    retriever: Any = None
    """``orchestrator.retrieval.Retriever`` when experts.yaml enables retrieval, else None."""
