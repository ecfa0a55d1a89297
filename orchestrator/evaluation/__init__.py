"""Offline evaluation of routing policies: replay recorded expert outcomes through the router.

``run_evaluation`` is what ``orchestrator eval`` runs; ``score_policies`` scores any set of
:class:`Policy` objects without a router; ``metrics`` holds the pure metric functions (APGR,
CPT, cost-of-pass, gap recovered, cost-quality AUC, bootstrap intervals).
"""

from orchestrator.evaluation.costs import CostSignal, resolve_costs
from orchestrator.evaluation.outcomes import RowOutcomes, Selection, score_selection
from orchestrator.evaluation.policies import FixedPolicy, OraclePolicy, Policy, RouterPolicy
from orchestrator.evaluation.report import EvalReport, PolicyReport
from orchestrator.evaluation.runner import EvalOptions, EvalResult, run_evaluation
from orchestrator.evaluation.scoring import score_policies

__all__ = [
    "CostSignal",
    "EvalOptions",
    "EvalReport",
    "EvalResult",
    "FixedPolicy",
    "OraclePolicy",
    "Policy",
    "PolicyReport",
    "RouterPolicy",
    "RowOutcomes",
    "Selection",
    "resolve_costs",
    "run_evaluation",
    "score_policies",
    "score_selection",
]
