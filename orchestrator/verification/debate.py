"""Debate (Michael et al. 2023; Khan et al. 2024) and consultancy between two answers.

Debate: the two experts holding the answers argue; round 1 is simultaneous (neither sees the
other), later rounds sequential (B answers A's newest speech); every speech is cut at the word
limit and its quotes are checked against the question and the passages. After every round the
judge gives P(first answer), in both answer orders averaged; the debate stops when the judge is
confident (max P >= ``stop_confidence``), at the round cap, or at a token/USD cap.
Consultancy: one expert argues for the pipeline's answer alone (twice the word limit per
speech, as in Michael et al.), and the judge decides between it and the runner-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.aggregation import final_section
from orchestrator.config import Price, VerificationSettings
from orchestrator.errors import ExpertError
from orchestrator.verification.budget import Budget
from orchestrator.verification.caller import ExpertCaller
from orchestrator.verification.judge import JudgeFailure, judge_both_orders
from orchestrator.verification.prompts import Turn, debater_messages, judge_messages
from orchestrator.verification.quotes import check_quotes
from orchestrator.verification.result import VerificationResult

__all__ = ["Debater", "DebateRunner"]

_OWN_WORK_CHARS = 1500
_JUDGE_PARAMS = {"temperature": 0.0, "max_tokens": 512}
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Debater:
    expert: str
    answer: str
    work: str
    """The expert's own earlier response: evidence the judge does not see."""


def cut_words(text: str, limit: int) -> tuple[str, bool]:
    words = text.split()
    if len(words) <= limit:
        return text.strip(), False
    return " ".join(words[:limit]) + " [cut at the word limit]", True


class DebateRunner:
    """Runs one debate or consultancy; fills in a :class:`VerificationResult` in place."""

    def __init__(
        self,
        settings: VerificationSettings,
        call: ExpertCaller,
        judge: str,
        budget: Budget,
        prices: Mapping[str, Price],
        *,
        question: str,
        passages: Sequence[str] = (),
        params: dict[str, Any] | None = None,
    ):
        self.s = settings
        self.call = call
        self.judge = judge
        self.budget = budget
        self.prices = prices
        self.question = question
        self.passages = list(passages)
        self.params = params or {}
        self.turns: list[Turn] = []
        self._last_cost: dict[str, tuple[int, float]] = {}

    # ------------------------------------------------------------------ estimates

    def _estimate(self, key: str, expert: str, messages: list[dict[str, str]], out_tokens: int) -> tuple[int, float]:
        if key in self._last_cost:
            return self._last_cost[key]
        prompt = sum(len(m["content"]) for m in messages) // _CHARS_PER_TOKEN
        price = self.prices.get(expert)
        return prompt + out_tokens, price.cost(prompt, out_tokens) if price else 0.0

    def _fits(self, steps: list[tuple[int, float]]) -> str | None:
        return self.budget.allows(sum(t for t, _ in steps), sum(u for _, u in steps))

    # ------------------------------------------------------------------ speeches

    async def _speak(self, debater: Debater, label: str, other: str, round_no: int, *, consultant: bool) -> tuple[Any, Turn, dict]:
        limit = self.s.word_limit * (2 if consultant else 1)
        messages = debater_messages(
            self.question, debater.answer, other, label, self.turns, word_limit=limit,
            passages=self.passages, own_work=final_section(debater.work, tail_chars=_OWN_WORK_CHARS), consultant=consultant,
        )  # fmt: skip
        params = {**self.params, "max_tokens": int(limit * 2) + 64}
        completion = await self.call(debater.expert, messages, params)
        # Charged on arrival: a partner's failure later in the round must not hide this call's cost.
        self.budget.spent.add([completion])
        speech, was_cut = cut_words(completion.text, limit)
        marked, quotes = check_quotes(speech, [self.question, *self.passages])
        record = {
            "round": round_no,
            "speaker": label,
            "expert": debater.expert,
            "answer": debater.answer,
            "text": marked,
            "cut": was_cut,
            "quotes": [q.to_dict() for q in quotes],
        }
        return completion, Turn(round_no, label, marked), record

    def _speech_step(self, debater: Debater, label: str, other: str, consultant: bool) -> tuple[int, float]:
        limit = self.s.word_limit * (2 if consultant else 1)
        msgs = debater_messages(self.question, debater.answer, other, label, self.turns, word_limit=limit)
        return self._estimate(f"speech:{debater.expert}", debater.expert, msgs, int(limit * 1.4))

    def _judge_step(self, first: str, second: str) -> tuple[int, float]:
        one = self._estimate("judge", self.judge, judge_messages(self.question, first, second, self.turns), 16)
        if "judge" in self._last_cost:
            return one
        n = 2 if self.s.both_orders else 1
        return one[0] * n, one[1] * n

    # ------------------------------------------------------------------ the protocol

    async def run(self, first: Debater, second: Debater, result: VerificationResult, *, consultancy: bool = False) -> None:
        """``first`` holds the pipeline's answer; in consultancy only ``first`` speaks."""
        speakers = [(first, "A", second.answer)] if consultancy else [(first, "A", second.answer), (second, "B", first.answer)]
        for round_no in range(1, self.budget.max_rounds + 1):
            steps = [self._speech_step(d, lbl, other, consultancy) for d, lbl, other in speakers]
            steps.append(self._judge_step(first.answer, second.answer))
            if cap := self._fits(steps):
                result.stop_reason = cap
                return
            try:
                await self._round(round_no, speakers, result, consultancy)
            except (ExpertError, TimeoutError) as exc:
                result.flags.append(f"debater failed: {exc}")
                result.stop_reason = "debater_error"
                return
            try:
                verdict = await judge_both_orders(
                    self.call, self.judge, self.question, first.answer, second.answer, self.turns,
                    both_orders=self.s.both_orders, timeout_s=self.s.judge_timeout_s, params=_JUDGE_PARAMS,
                )  # fmt: skip
            except JudgeFailure as exc:
                self.budget.spent.add(exc.calls)
                # A timed-out judge cost its whole timeout, twice (the retry).
                result.latency_s += 2 * self.s.judge_timeout_s if exc.kind == "timeout" else sum(c.latency_s for c in exc.calls)
                result.flags.append(f"judge_{exc.kind}")
                result.stop_reason = f"judge_{exc.kind}"
                result.reason = exc.detail
                return
            self.budget.spent.add(verdict.calls)
            n_orders = len(verdict.by_order)
            self._last_cost["judge"] = (
                sum(c.prompt_tokens + c.completion_tokens for c in verdict.calls),
                sum(c.cost_usd for c in verdict.calls),
            )
            result.latency_s += sum(c.latency_s for c in verdict.calls) / n_orders
            result.rounds = round_no
            p = verdict.p_first
            record = {"round": round_no, "p": {first.answer: round(p, 4), second.answer: round(1 - p, 4)}, "by_order": [round(x, 4) for x in verdict.by_order]}
            if reasks := len(verdict.calls) - n_orders:
                record["reasks"] = reasks  # malformed replies that the second ask repaired
            result.verdicts.append(record)
            result.answer, result.probability = (first.answer, p) if p >= 0.5 else (second.answer, 1 - p)
            result.status = "verified"
            if max(p, 1 - p) >= self.s.stop_confidence:
                result.stop_reason = "confident"
                return
        result.stop_reason = "round_cap"

    async def _round(self, round_no: int, speakers: list, result: VerificationResult, consultancy: bool) -> None:
        if round_no == 1 and len(speakers) > 1:
            # Simultaneous opening: both speak before either sees the other.
            settled = await asyncio.gather(*(self._speak(d, lbl, other, round_no, consultant=consultancy) for d, lbl, other in speakers), return_exceptions=True)
            if failed := next((r for r in settled if isinstance(r, BaseException)), None):
                raise failed
            spoken = [r for r in settled if not isinstance(r, BaseException)]
            result.latency_s += max(c.latency_s for c, _, _ in spoken)
        else:
            spoken = []
            for d, lbl, other in speakers:
                one = await self._speak(d, lbl, other, round_no, consultant=consultancy)
                self.turns.append(one[1])  # the next speaker answers this speech
                result.latency_s += one[0].latency_s
                spoken.append(one)
            self.turns = self.turns[: len(self.turns) - len(spoken)]
        for (completion, turn, record), (d, _, _) in zip(spoken, speakers):
            self._last_cost[f"speech:{d.expert}"] = (completion.prompt_tokens + completion.completion_tokens, completion.cost_usd)
            self.turns.append(turn)
            result.transcript.append(record)
