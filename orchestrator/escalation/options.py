"""The per-request escalation option (``orchestrator.escalation`` in the request body)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EscalationOptions"]


class EscalationOptions(BaseModel):
    """Ask the cheapest trusted expert(s) first; accept when ``signal >= threshold``, else escalate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Literal["agreement", "router", "logprob", "posterior"] = Field(
        default="router", description="confidence signal: answers agreeing, router P(correct), token log-probabilities, "
                                      "or the answer's posterior (a vote weighted by the router's per-query reliabilities)")
    threshold: float = Field(default=0.7, ge=0.0, le=1.0, description="accept the current answer when the signal is at least this")
    probes: int = Field(default=1, ge=1, le=4, description="experts asked in the first tier (agreement needs 2+)")
    max_tiers: int = Field(default=3, ge=1, le=3, description="1: first tier only; 2: + the strongest expert; 3: + a vote")
    probe_cost_weight: float = Field(default=0.3, ge=0.0, description="cost weight the first tier is chosen with (higher = cheaper)")
    merge: Literal["vote", "strongest"] = Field(
        default="vote", description="vote: answers weighted by router P(correct); strongest: the best-rated expert called answers")
