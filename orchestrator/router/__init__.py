"""The two-level router (category classifier -> skill recruiter) and its baselines."""

from orchestrator.router.decision import RankedExpert, RoutingDecision
from orchestrator.router.protocol import Router
from orchestrator.router.two_level import TwoLevelRouter

__all__ = ["RankedExpert", "Router", "RoutingDecision", "TwoLevelRouter"]
