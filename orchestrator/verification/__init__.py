"""Debate-style verification, run only where the experts disagree (ALGORITHMS.md §8).

:class:`Verifier` decides (trigger), picks the contenders and runs one protocol: ``debate``
(two experts argue, a judge gives probabilities), ``consultancy`` (one argues) or ``mad``
(Du et al. multi-agent revision and vote), within per-request caps.
"""

from orchestrator.verification.budget import Budget, Spend
from orchestrator.verification.caller import CallResult, ExpertCaller
from orchestrator.verification.judge import JudgeFailure, JudgeVerdict, parse_probability
from orchestrator.verification.quotes import QuoteCheck, check_quotes
from orchestrator.verification.result import Candidate, VerificationResult
from orchestrator.verification.trigger import TriggerDecision, decide_trigger, plurality
from orchestrator.verification.verifier import Aggregated, Verifier, When

__all__ = [
    "Aggregated",
    "Budget",
    "CallResult",
    "Candidate",
    "ExpertCaller",
    "JudgeFailure",
    "JudgeVerdict",
    "QuoteCheck",
    "Spend",
    "TriggerDecision",
    "Verifier",
    "VerificationResult",
    "When",
    "check_quotes",
    "decide_trigger",
    "parse_probability",
    "plurality",
]
