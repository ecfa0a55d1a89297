"""Calling expert models: one async client over litellm and a raw httpx fast path."""

from orchestrator.experts.backoff import Backoff
from orchestrator.experts.breaker import BreakerState, CircuitBreaker
from orchestrator.experts.client import BreakerOpen, ExpertClient, ResiliencePolicy
from orchestrator.experts.types import Completion, RawCompletion, TraceEvent

__all__ = [
    "Backoff",
    "BreakerOpen",
    "BreakerState",
    "CircuitBreaker",
    "Completion",
    "ExpertClient",
    "RawCompletion",
    "ResiliencePolicy",
    "TraceEvent",
]
