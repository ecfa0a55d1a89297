"""The entry point: decide whether to verify, pick who argues, run the chosen protocol, and
turn its verdict into the response (ALGORITHMS.md §8.4).

``when``: ``off`` never verifies; ``auto`` verifies when :func:`decide_trigger` fires; ``always``
verifies whenever there are two different answers to weigh. The pipeline's answer stays the
answer unless a verdict prefers another one; a failed judge or a cap reached before any verdict
leaves it unverified, and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.config import Price, VerificationSettings
from orchestrator.verification.budget import Budget
from orchestrator.verification.caller import ExpertCaller
from orchestrator.verification.debate import Debater, DebateRunner
from orchestrator.verification.mad import run_mad
from orchestrator.verification.result import Candidate, VerificationResult
from orchestrator.verification.trigger import decide_trigger, plurality

__all__ = ["Aggregated", "Verifier", "When"]

When = Literal["off", "auto", "always"]


@dataclass(frozen=True)
class Aggregated:
    """The pipeline's answer before verification."""

    answer: str | None
    text: str
    aggregator: str | None = None
    cost_usd: float = 0.0
    """What the request cost so far (for ``max_cost_ratio``)."""


class Verifier:
    def __init__(self, settings: VerificationSettings, call: ExpertCaller, judge: str | None, prices: Mapping[str, Price] | None = None):
        self.settings = settings
        self.call = call
        self.judge = judge
        self.prices = dict(prices or {})

    def budget(self, routed_cost_usd: float) -> Budget:
        s = self.settings
        caps = [c for c in (s.max_usd, None if s.max_cost_ratio is None else s.max_cost_ratio * routed_cost_usd) if c is not None]
        return Budget(s.max_rounds, s.max_tokens, min(caps) if caps else None)

    async def verify(
        self,
        question: str,
        candidates: Sequence[Candidate],
        aggregated: Aggregated,
        *,
        when: When = "auto",
        mode: str | None = None,
        category: str | None = None,
        confidence: float | None = None,
        passages: Sequence[str] = (),
        params: dict[str, Any] | None = None,
    ) -> VerificationResult:
        mode = mode or self.settings.mode
        trigger = decide_trigger(
            [c.answer for c in candidates], self.settings, aggregated=aggregated.answer, confidence=confidence, category=category
        )
        result = VerificationResult("skipped", mode, trigger, aggregated_answer=aggregated.answer, text=aggregated.text)
        if when == "off":
            result.reason = "off"
            return result
        if when == "auto" and not trigger.fire:
            result.reason = "not triggered"
            return result
        pair = _contenders(candidates, aggregated)
        if pair is None:
            result.reason = "fewer than two distinct answers to weigh"
            return result
        if mode != "mad" and self.judge is None:
            result.reason = "no judge configured"
            result.flags.append("no_judge")
            return result
        result.status = "unverified"
        budget = self.budget(aggregated.cost_usd)
        if mode == "mad":
            agents = [c for c in candidates if c.answer is not None][: self.settings.mad_agents]
            await run_mad(self.settings, self.call, budget, self.prices, question, agents, result, params)
        else:
            assert self.judge is not None
            runner = DebateRunner(self.settings, self.call, self.judge, budget, self.prices, question=question, passages=passages, params=params)
            await runner.run(pair[0], pair[1], result, consultancy=mode == "consultancy")
            if result.status == "verified":
                result.text = aggregated.text if result.answer == aggregated.answer else next(d.work for d in pair if d.answer == result.answer)
        result.spend = budget.spent
        _keep_unless_convinced(result, aggregated, self.settings.flip_confidence)
        if result.status != "verified":
            result.text = aggregated.text
            if not any(f.startswith("judge_") for f in result.flags):
                result.flags.append(f"unverified: {result.stop_reason or 'no verdict'}")
        elif mode == "mad" and result.answer == aggregated.answer:
            result.text = aggregated.text
        return result


def _keep_unless_convinced(result: VerificationResult, aggregated: Aggregated, threshold: float) -> None:
    """The pipeline's answer stands unless the verdict gives the rival at least ``threshold``:
    the best-ranked experts' answer is right more often than a 50/50 judge assumes."""
    if result.status != "verified" or result.answer == aggregated.answer or result.probability is None:
        return
    if result.probability < threshold and aggregated.answer is not None:
        result.flags.append(f"kept the pipeline's answer: the rival's {result.probability:.2f} is below flip_confidence {threshold:g}")
        result.answer, result.probability, result.text = aggregated.answer, 1.0 - result.probability, aggregated.text


def _contenders(candidates: Sequence[Candidate], aggregated: Aggregated) -> tuple[Debater, Debater] | None:
    """The pipeline's answer and its strongest rival, each with the best-ranked expert holding it."""
    answers = [c.answer for c in candidates]
    first = aggregated.answer if aggregated.answer is not None else plurality(answers)
    if first is None:
        return None
    counts = Counter(a for a in answers if a is not None and a != first)
    if not counts:
        return None
    best = max(counts.values())
    second = next(a for a in answers if a is not None and a != first and counts[a] == best)

    def holder(answer: str) -> Debater:
        for c in candidates:
            if c.answer == answer:
                return Debater(c.expert, answer, c.text)
        # A synthesised answer no expert gave: the aggregator that wrote it defends it.
        assert aggregated.aggregator is not None
        return Debater(aggregated.aggregator, answer, aggregated.text)

    if first not in answers and aggregated.aggregator is None:
        return None
    return holder(first), holder(second)
