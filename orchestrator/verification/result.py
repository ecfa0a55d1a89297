"""What one verification did: the verdict, how it got there (transcript), and what it cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.verification.budget import Spend
from orchestrator.verification.trigger import TriggerDecision

__all__ = ["Candidate", "VerificationResult"]


@dataclass(frozen=True)
class Candidate:
    """One expert's response as verification sees it, in router rank order."""

    expert: str
    text: str
    answer: str | None


@dataclass
class VerificationResult:
    status: str
    """``verified`` (a verdict was reached), ``unverified`` (flagged: judge failed, or a cap came
    before any verdict) or ``skipped`` (off, not triggered, or nothing to argue about)."""
    mode: str
    trigger: TriggerDecision
    answer: str | None = None
    probability: float | None = None
    """The verdict's probability that ``answer`` is correct."""
    text: str | None = None
    """The response text to return (the aggregated one unless the verdict chose another answer)."""
    aggregated_answer: str | None = None
    rounds: int = 0
    stop_reason: str = ""
    flags: list[str] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    spend: Spend = field(default_factory=Spend)
    latency_s: float = 0.0
    """Critical path of the verification calls (parallel calls count once)."""
    reason: str = ""

    @property
    def changed(self) -> bool:
        """The verdict flipped the pipeline's answer."""
        return self.status == "verified" and self.answer is not None and self.answer != self.aggregated_answer

    @property
    def ran(self) -> bool:
        return self.status != "skipped"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "mode": self.mode,
            "trigger": self.trigger.to_dict(),
        }
        if self.reason:
            out["reason"] = self.reason
        if not self.ran:
            return out
        out.update(
            answer=self.answer,
            probability=None if self.probability is None else round(self.probability, 4),
            aggregated_answer=self.aggregated_answer,
            changed=self.changed,
            rounds=self.rounds,
            stop_reason=self.stop_reason,
            flags=list(self.flags),
            verdicts=self.verdicts,
            transcript=self.transcript,
            usage=self.spend.to_dict(),
            latency_ms=round(self.latency_s * 1000, 3),
        )
        return out
