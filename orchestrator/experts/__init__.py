"""Calling expert models: one async client over litellm and a raw httpx fast path."""

from orchestrator.experts.backoff import Backoff
from orchestrator.experts.breaker import BreakerState, CircuitBreaker
from orchestrator.experts.client import BreakerOpen, ExpertClient, ResiliencePolicy
from orchestrator.experts.streaming import ExpertStream
from orchestrator.experts.types import Completion, RawCompletion, StreamPart, TraceEvent, Usage

__all__ = [
    "Backoff",
    "BreakerOpen",
    "BreakerState",
    "CircuitBreaker",
    "Completion",
    "ExpertClient",
    "ExpertStream",
    "RawCompletion",
    "ResiliencePolicy",
    "StreamPart",
    "TraceEvent",
    "Usage",
]
