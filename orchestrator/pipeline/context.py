"""Run settings shared by every request: the router, the way to reach experts, the aggregator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.aggregation import Aggregator
from orchestrator.config import Config

__all__ = ["CallFn", "PipelineContext", "RouteFn"]

CallFn = Callable[[str, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]
"""``call(expert, messages, params) -> Completion`` (``Scheduler.submit`` or ``ExpertClient.complete``)."""


class RouteFn(Protocol):
    """Routes one prompt; the runner wraps ``router.route`` in a micro-batcher."""

    async def __call__(self, prompt: str, **kwargs: Any) -> Any: ...


@dataclass(kw_only=True)
class PipelineContext:
    config: Config
    route: RouteFn
    call: CallFn
    aggregator: Aggregator = field(default_factory=Aggregator)
    max_fallbacks: int = 2
    """How many next-ranked experts may replace failed ones in one request."""
    retriever: Any = None
    """``orchestrator.retrieval.Retriever`` when experts.yaml enables retrieval, else None."""
