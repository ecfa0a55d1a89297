"""What a simulated expert says: a replayed answer from a routing dataset, or a template.

With ``--replay FILE --expert NAME`` a prompt recorded in the dataset (matched exactly, or
after collapsing whitespace) is answered with a short chain of reasoning whose last line is
``The answer is <X>.``, where X is the expert's recorded answer. Where the dataset kept only a
score, X is a marker that still tells right from wrong: every correct expert says
``ref-<id>`` (so correct experts agree, as they would in a vote) and every wrong expert says
its own ``wrong-<id>-<hash>``. Where the row recorded ``output_tokens``, the reasoning is
padded to about that length, so replayed latency and token costs match the recording.
Anything else gets a deterministic template answer seeded by the prompt, the expert and the seed.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.expert_sim.tokens import count_text

log = logging.getLogger(__name__)

CORRECT_THRESHOLD = 0.5
MAX_REPLAY_TOKENS = 4096
_SPACES = re.compile(r"\s+")

_OPENERS = (
    "Let me work through this step by step.",
    "First, I restate what is being asked.",
    "Let us break the question into parts.",
    "I will reason about this carefully.",
)
_STEPS = (
    "The key facts in the question constrain the possibilities.",
    "Checking each option against those facts leaves one candidate.",
    "A quick sanity check confirms the intermediate result.",
    "Combining the partial results gives the final value.",
    "Nothing in the question contradicts this reading.",
    "The remaining alternatives fail on at least one condition.",
)
_TEMPLATE_ANSWERS = ("A", "B", "C", "D", "42", "7", "yes", "no", "true", "false")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Recorded:
    """One expert's recorded outcome on one prompt."""

    record_id: str
    score: float
    answer: str | None
    output_tokens: int | None = None

    @property
    def correct(self) -> bool:
        return self.score >= CORRECT_THRESHOLD

    def final_answer(self, expert: str) -> str:
        if self.answer:
            return self.answer.strip()
        if self.correct:
            return f"ref-{self.record_id}"
        return f"wrong-{self.record_id}-{hashlib.sha1(expert.encode()).hexdigest()[:6]}"


class ReplayBook:
    """Recorded outcomes of one expert, looked up by prompt."""

    def __init__(self, outcomes: dict[str, Recorded]):
        self._outcomes = outcomes

    @classmethod
    def load(cls, path: Path, expert: str) -> ReplayBook:
        from orchestrator.data import iter_records

        outcomes: dict[str, Recorded] = {}
        for _, record in iter_records(path):
            outcome = record.experts.get(expert)
            if outcome is None:
                continue
            recorded = Recorded(record.id, outcome.score, outcome.answer, outcome.output_tokens)
            outcomes.setdefault(record.prompt, recorded)
            outcomes.setdefault(normalise(record.prompt), recorded)
        if not outcomes:
            log.warning("%s records no answers for expert %r; every answer will be a template", path, expert)
        return cls(outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def lookup(self, prompt: str) -> Recorded | None:
        found = self._outcomes.get(prompt) or self._outcomes.get(normalise(prompt))
        if found is None:
            # A prompt carrying retrieved passages replays the answer recorded with retrieval
            # (step 1: single retrieval, later steps: multi-step), keyed by `replay_key`.
            from orchestrator.retrieval.prompt import parse_augmented, replay_key

            parsed = parse_augmented(prompt)
            if parsed is not None:
                key = replay_key(parsed[0], "single" if parsed[1] == 1 else "multi")
                found = self._outcomes.get(key) or self._outcomes.get(normalise(key))
        return found


class Answerer:
    """Turns a prompt into the expert's answer text."""

    def __init__(self, expert: str, seed: int = 0, book: ReplayBook | None = None, verification: Any = None):
        self.expert = expert
        self.seed = seed
        self.book = book
        self.verification = verification  # a VerificationResponder: debate, judge and agent prompts

    def correct(self, prompt: str) -> bool | None:
        """Whether the replayed answer to ``prompt`` is right (None: nothing recorded for it)."""
        recorded = self.book.lookup(prompt) if self.book is not None else None
        return recorded.correct if recorded is not None else None

    def answer(self, prompt: str) -> str:
        if self.verification is not None and (reply := self.verification.respond(prompt)) is not None:
            return reply
        recorded = self.book.lookup(prompt) if self.book is not None else None
        rng = _rng(self.seed, self.expert, prompt)
        final = recorded.final_answer(self.expert) if recorded is not None else rng.choice(_TEMPLATE_ANSWERS)
        lines = [rng.choice(_OPENERS), *rng.sample(_STEPS, k=rng.randint(1, 3))]
        # Where the dataset recorded the answer's length, reason for about as long, so the
        # latency and token costs of a replay match the recording.
        target = min(recorded.output_tokens or 0, MAX_REPLAY_TOKENS) if recorded else 0
        while count_text("\n".join(lines)) + 8 < target:
            lines.append(rng.choice(_STEPS))
        return "\n".join([*lines, f"The answer is {final}."])
