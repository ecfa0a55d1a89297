"""What the router decides for one query: a plain value others (gateway, scheduler, evaluation) read."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["RankedExpert", "RoutingDecision"]


@dataclass(frozen=True)
class RankedExpert:
    name: str
    score: float  # the score the ranking used (quality traded against cost)
    predicted_quality: float  # predicted P(correct) / expected score in [0, 1]
    est_cost: float | None  # expected cost per call, in the router's cost unit


@dataclass(frozen=True)
class RoutingDecision:
    category: str
    category_probs: dict[str, float]  # top categories -> probability
    skills: list[str]
    experts: list[RankedExpert]  # every candidate, best first
    k: int
    chosen: list[str]  # the k experts to call, best first (duplicates allowed in sample mode)
    aggregator: str | None
    fallback_reason: str | None

    def to_dict(self) -> dict:
        """JSON-ready: plain floats, lists and dicts only."""
        out = asdict(self)
        out["category_probs"] = {k: round(float(v), 6) for k, v in self.category_probs.items()}
        out["experts"] = [
            {
                "name": e.name,
                "score": round(float(e.score), 6),
                "predicted_quality": round(float(e.predicted_quality), 6),
                "est_cost": None if e.est_cost is None else float(e.est_cost),
            }
            for e in self.experts
        ]
        return out
