"""When to verify: only where the experts' answers leave room for doubt (ALGORITHMS.md §8.4).

Debate over every request costs far more than it returns (multi-agent debate alone rarely
beats a vote); debate on disagreement pays. The reasons, any of which fires:

- ``disagreement``: two or more distinct extracted answers (``any``), or no answer with a
  strict majority of the extracted ones (``no_majority``, the default: a 2-1 split stays a vote);
- ``aggregator_vs_plurality``: a synthesised answer differs from the experts' plurality;
- ``low_confidence``: a confidence signal (escalation, when the router provides one) below
  ``trigger_confidence``;
- ``high_stakes``: the request's category is listed in ``high_stakes_categories``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.config import VerificationSettings

__all__ = ["TriggerDecision", "decide_trigger", "plurality"]


@dataclass(frozen=True)
class TriggerDecision:
    fire: bool
    reasons: list[str] = field(default_factory=list)
    distinct: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"fire": self.fire, "reasons": list(self.reasons), "distinct_answers": self.distinct}


def plurality(answers: Sequence[str | None]) -> str | None:
    """The most common extracted answer; ties go to the earliest (answers are in rank order)."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def decide_trigger(
    answers: Sequence[str | None],
    settings: VerificationSettings,
    *,
    aggregated: str | None = None,
    confidence: float | None = None,
    category: str | None = None,
) -> TriggerDecision:
    """``answers``: each expert's extracted answer in rank order (``None`` where none extracted)."""
    extracted = [a for a in answers if a is not None]
    counts = Counter(extracted)
    reasons: list[str] = []
    if len(counts) >= 2 and settings.disagreement != "off":
        top = counts.most_common(1)[0][1]
        if settings.disagreement == "any" or top * 2 <= len(extracted):
            reasons.append("disagreement")
    top_answer = plurality(answers)
    if aggregated is not None and top_answer is not None and aggregated != top_answer:
        reasons.append("aggregator_vs_plurality")
    if confidence is not None and confidence < settings.trigger_confidence:
        reasons.append("low_confidence")
    if category is not None and category in settings.high_stakes_categories:
        reasons.append("high_stakes")
    return TriggerDecision(bool(reasons), reasons, len(counts))
