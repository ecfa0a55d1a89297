"""The simulator as debater, consultant, multi-agent-debate agent and judge.

Debate cannot be replayed from recorded data, so the simulated judge has a DECLARED accuracy
(assumptions, not measurements; every number is a :class:`JudgeModel` field):

- It tracks the truth only where the replay dataset says which answers are right. When exactly
  one of the two answers is right, it gathers evidence round by round: each round adds an
  independent N(m, 1) increment towards the right answer and it reports the Bayesian
  posterior sigmoid(2 m S). m is set so that after ``full_rounds`` rounds it picks the right
  answer with probability ``accuracy_debate`` (0.84) when both sides spoke, and
  ``accuracy_consultancy`` (0.74) when one consultant spoke: Michael et al. (2023)'s human
  judge accuracies. So it is calibrated by construction, and stopping early costs accuracy.
- It favours the answer shown first by ``position_bias`` (0.05): judging both orders cancels it.
- With no right answer, or two, it has no signal and its verdict is noise.

Debaters quote a span of the question; one defending a wrong answer invents its quote with
probability ``fabricate_wrong`` (0.2). Multi-agent-debate agents keep their recorded answer
unless the other agents' plurality outnumbers their own side, then adopt it with probability
``switch_if_right`` (0.25) when they were right, ``switch_if_wrong`` (0.5) when wrong.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from orchestrator.aggregation import extract_answer, normalize_answer
from orchestrator.verification.prompts import AGENT_OPENING, CONSULTANT_OPENING, DEBATER_OPENING, JUDGE_OPENING
from services.expert_sim.answers import _rng  # the same seeded draws as replayed answers

__all__ = ["GoldBook", "JudgeModel", "VerificationResponder"]

_TAG = {name: re.compile(rf"<{name}>\n?(.*?)\n?</{name}>", re.DOTALL) for name in ("question", "your_solution", "you_defend")}
_ANSWER = re.compile(r'<answer label="(?P<label>[AB])">(?P<text>.*?)</answer>', re.DOTALL)
_TURN = re.compile(r'<turn round="(?P<round>\d+)" speaker="(?P<speaker>[AB])">')
_PEER = re.compile(r"<peer>\n?(.*?)\n?</peer>", re.DOTALL)
_LIMIT = re.compile(r"at most (\d+) words")
_ROUND = re.compile(r"revision round (\d+)")
_FILLER = (
    "The question's own wording rules out the alternative once it is read closely.",
    "Working the numbers through step by step leads to this answer and no other.",
    "The opposing answer depends on an assumption the question never makes.",
    "Each condition in the question is met by this answer; the rival fails at least one.",
    "A quick check of units and magnitudes confirms the result.",
    "The rival's argument skips a step, and that step is where it goes wrong.",
)


def _key(text: str) -> str:
    return " ".join(text.split())


class GoldBook:
    """Which answers the replay dataset records as right, by prompt."""

    def __init__(self, right: dict[str, set[str]] | None = None, *, path: Path | None = None):
        self._right = right
        self._path = path  # read on first use: most simulated requests are never judged

    @classmethod
    def load(cls, path: Path) -> GoldBook:
        from orchestrator.data import iter_records

        right: dict[str, set[str]] = {}
        for _, record in iter_records(path):
            answers = right.setdefault(_key(record.prompt), set())
            for outcome in record.experts.values():
                if outcome.score >= 0.5:
                    answers.add(normalize_answer(outcome.answer) if outcome.answer else f"ref-{record.id}")
        return cls(right)

    def right_answers(self, question: str) -> set[str] | None:
        if self._right is None:
            self._right = GoldBook.load(self._path)._right if self._path is not None else {}
        return self._right.get(_key(question))


@dataclass(frozen=True)
class JudgeModel:
    accuracy_debate: float = 0.84
    accuracy_consultancy: float = 0.74
    full_rounds: int = 3
    position_bias: float = 0.05
    fabricate_wrong: float = 0.2
    switch_if_right: float = 0.25
    switch_if_wrong: float = 0.5


class VerificationResponder:
    """Answers a verification prompt (recognised by its first line), or returns ``None``."""

    def __init__(self, expert: str, seed: int = 0, gold: GoldBook | None = None, model: JudgeModel | None = None):
        self.expert = expert
        self.seed = seed
        self.gold = gold
        self.model = model or JudgeModel()

    def respond(self, prompt: str) -> str | None:
        head = prompt.lstrip().split("\n", 1)[0]
        if head == JUDGE_OPENING:
            return self._judge(prompt)
        if head in (DEBATER_OPENING, CONSULTANT_OPENING):
            return self._debate(prompt)
        if head == AGENT_OPENING:
            return self._agent(prompt)
        return None

    def _is_right(self, question: str, answer: str | None) -> bool | None:
        right = self.gold.right_answers(question) if self.gold is not None else None
        if right is None or answer is None:
            return None
        return normalize_answer(answer) in right

    # ------------------------------------------------------------------ judge

    def _judge(self, prompt: str) -> str:
        question = _tag(prompt, "question")
        answers = {m.group("label"): m.group("text").strip() for m in _ANSWER.finditer(prompt)}
        a, b = answers.get("A", ""), answers.get("B", "")
        turns = [(int(m.group("round")), m.group("speaker")) for m in _TURN.finditer(prompt)]
        rounds = max((r for r, _ in turns), default=0)
        debate = len({s for _, s in turns}) >= 2
        accuracy = self.model.accuracy_debate if debate else self.model.accuracy_consultancy
        m = NormalDist().inv_cdf(accuracy) / math.sqrt(self.model.full_rounds)
        a_right, b_right = self._is_right(question, a), self._is_right(question, b)
        # The same evidence whichever order the answers come in: seeded by the unordered pair.
        rng = _rng(self.seed, "judge", question, *sorted((a, b)), "debate" if debate else "consultancy")
        increments = [rng.gauss(0.0, 1.0) for _ in range(max(rounds, 1))]
        if a_right is not None and a_right != b_right:
            toward_right = sum(m + e for e in increments)  # evidence sum in the right answer's favour
            evidence = toward_right if a_right else -toward_right
        else:
            side = 1.0 if a == min(a, b) else -1.0  # no truth to track: noise, order-independent
            evidence = side * sum(increments)
        p_a = 1.0 / (1.0 + math.exp(-2.0 * m * evidence)) + self.model.position_bias
        return f"P(A)={min(0.99, max(0.01, p_a)):.2f}"

    # ------------------------------------------------------------------ debaters

    def _debate(self, prompt: str) -> str:
        question = _tag(prompt, "question")
        label = _tag(prompt, "you_defend").strip() or "A"
        answers = {m.group("label"): m.group("text").strip() for m in _ANSWER.finditer(prompt)}
        own = answers.get(label, "")
        limit = int(_LIMIT.search(prompt).group(1)) if _LIMIT.search(prompt) else 120
        round_no = 1 + max((int(m.group("round")) for m in _TURN.finditer(prompt)), default=0)
        rng = _rng(self.seed, self.expert, "debate", question, own, round_no)
        words = question.split()
        if self._is_right(question, own) is False and rng.random() < self.model.fabricate_wrong:
            quote = "the question plainly states that this option is the only consistent one"
        else:
            start = rng.randrange(max(1, len(words) - 8))
            quote = " ".join(words[start : start + 8])
        lines = [f"The question says <quote>{quote}</quote>, which supports {own}."]
        while len(" ".join(lines).split()) < int(limit * 0.8) - 12:
            lines.append(rng.choice(_FILLER))
        lines.append(f"The answer is {own}.")
        return "\n".join(lines)

    # ------------------------------------------------------------------ multi-agent debate

    def _agent(self, prompt: str) -> str:
        question = _tag(prompt, "question")
        own = extract_answer(_tag(prompt, "your_solution"))
        peers = [a for a in (extract_answer(p) for p in _PEER.findall(prompt)) if a is not None]
        counts = Counter(peers)
        final = own
        if counts:
            top, n = counts.most_common(1)[0]
            if own is None or (top != own and n > counts.get(own, 0)):
                right = self._is_right(question, own)
                p = 1.0 if own is None else self.model.switch_if_right if right else self.model.switch_if_wrong
                round_no = _ROUND.search(prompt)
                if _rng(self.seed, self.expert, "agent", question, round_no.group(1) if round_no else 0).random() < p:
                    final = top
        reason = "The other agents' reasoning changed my mind." if final != own else "Having checked the other solutions, I keep mine."
        return f"{reason}\nThe answer is {final}."


def _tag(prompt: str, name: str) -> str:
    found = _TAG[name].search(prompt)
    return found.group(1) if found else ""
