"""When to verify: only where the experts' answers leave room for doubt (ALGORITHMS.md §8.4).

Debate over every request costs far more than it returns (multi-agent debate alone rarely
beats a vote); debate on disagreement pays. The reasons, any of which fires:

- ``disagreement``: two or more distinct extracted answers (``any``), or no answer with a
  strict majority of the extracted ones (``no_majority``, the default: a 2-1 split stays a vote);
- ``aggregator_vs_plurality``: a synthesised answer differs from the experts' plurality;
- ``low_confidence``: a confidence signal (escalation, when the router provides one) below
  ``trigger_confidence``;
- ``high_stakes``: the request's category is listed in ``high_stakes_categories``.

With ``require_low_confidence`` the confidence signal is a gate instead of a reason: a
disagreement (or an aggregator at odds with the plurality) fires only when the signal is below
``trigger_confidence``. Debate pays where the pipeline's answer is likely wrong, and a gate that
lets through only those requests also cuts what verification adds to the mean cost. A request
with no signal is not held back (the trace says so); high-stakes categories always fire.
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
    confidence: float | None = None
    held: str | None = None
    """Why a disagreement did not fire (the confidence gate), or a note that the gate had no signal."""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"fire": self.fire, "reasons": list(self.reasons), "distinct_answers": self.distinct}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 4)
        if self.held:
            out["held"] = self.held
        return out


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
    low = confidence is not None and confidence < settings.trigger_confidence
    held: str | None = None
    if settings.require_low_confidence:
        if reasons and confidence is None:
            held = "no confidence signal: the gate let the disagreement through"
        elif reasons and not low:
            held = f"confidence {confidence:.3f} >= trigger_confidence {settings.trigger_confidence:g}"
            reasons = []
    if low:
        reasons.append("low_confidence")
    fire = bool(reasons) and (not settings.require_low_confidence or reasons != ["low_confidence"])
    if category is not None and category in settings.high_stakes_categories:
        reasons.append("high_stakes")
        fire = True
    return TriggerDecision(fire, reasons, len(counts), confidence, held)
