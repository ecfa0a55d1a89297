"""Escalation (cascade) policies: ask the cheapest experts the router trusts first, accept when a
confidence signal clears a threshold, else escalate (a stronger expert, then more experts and a
vote). The same tier planning and signals run offline in ``orchestrator eval`` (replayed over
recorded answers, :mod:`.replay`) and inside the gateway (:mod:`.runtime`)."""

from orchestrator.escalation.cascade import CascadePlan, Tally, plan_tiers, tally
from orchestrator.escalation.signals import SIGNALS, LearnedConfidence, confidence_features

__all__ = ["SIGNALS", "CascadePlan", "LearnedConfidence", "Tally", "confidence_features", "plan_tiers", "tally"]
