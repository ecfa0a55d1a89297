"""The pipeline's typed state: what flows between the nodes of one request.

Run settings (router, expert access, aggregator) live in :class:`~orchestrator.pipeline.context.PipelineContext`,
never here. Fields that several writers extend carry an ``operator.add`` reducer.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any

from orchestrator.aggregation import AggregationResult
from orchestrator.experts.types import Completion
from orchestrator.pipeline.options import RequestOptions
from orchestrator.router.decision import RoutingDecision
from orchestrator.trace import TraceEvent

__all__ = ["ExpertFailure", "PipelineInput", "PipelineState"]


@dataclass(frozen=True)
class ExpertFailure:
    expert: str
    error: str
    error_type: str


@dataclass
class PipelineInput:
    messages: list[dict[str, Any]]
    """The conversation, OpenAI chat format."""
    options: RequestOptions = field(default_factory=RequestOptions)
    """Per-request overrides (k, budget, experts, aggregation mode, ...)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Sampling parameters forwarded to every expert call (max_tokens, temperature, ...)."""
    stream: bool = False
    """The client streams: nodes that can emit the final answer's tokens as they arrive do so
    (a single expert's, or the synthesising aggregator's) through the graph's stream writer."""


@dataclass
class PipelineState(PipelineInput):
    decision: RoutingDecision | None = None
    """The router's decision for this request."""
    completions: Annotated[list[Completion], operator.add] = field(default_factory=list)
    """Expert completions that succeeded, in rank order."""
    failures: Annotated[list[ExpertFailure], operator.add] = field(default_factory=list)
    """Expert calls that failed (the answer is degraded when this is not empty)."""
    retrieval: Any = None
    """The ``RetrievalOutcome`` of the retrieval gate (None when retrieval is off)."""
    aggregation: AggregationResult | None = None
    verification: Any = None
    """The verify step's ``VerificationResult`` (``None`` before it runs)."""
    streamed: str | None = None
    """Who already streamed the answer's tokens to the client: ``expert`` or ``aggregator``."""
    trace: Annotated[list[TraceEvent], operator.add] = field(default_factory=list)
    """One event per step; appended by every node."""
