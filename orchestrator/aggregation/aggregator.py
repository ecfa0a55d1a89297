"""Merge k expert responses into one answer: consensus, majority vote or synthesis.

``auto`` (the default) is the cheap-first policy of ALGORITHMS.md §5: when every extracted
answer agrees, return it without calling anyone (the consensus shortcut); when answers extract
but disagree, take the majority (ties go to the higher-ranked expert); when they do not extract
(open-ended text), ask the aggregator expert to synthesise. Candidates arrive in the router's
rank order, best first, which is what breaks ties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.aggregation.extraction import extract_answer, final_section
from orchestrator.aggregation.prompts import synthesis_messages
from orchestrator.config import AggregationSettings

__all__ = ["AggregationResult", "Aggregator", "Candidate", "CompleteFn", "MODES", "StreamFn"]

MODES = ("auto", "consensus", "vote", "synthesis", "best")


class _HasText(Protocol):
    text: str


CompleteFn = Callable[[str, list[dict], dict[str, Any]], Awaitable[_HasText]]
"""``complete(expert, messages, params) -> Completion``: how synthesis reaches the aggregator."""


class _Stream(Protocol):
    def __aiter__(self) -> AsyncIterator[str]: ...

    @property
    def completion(self) -> Any: ...


StreamFn = Callable[[str, list[dict], dict[str, Any]], _Stream]
"""``stream(expert, messages, params) -> ExpertStream``: synthesis streams its final round."""


@dataclass(frozen=True)
class Candidate:
    """One expert's response, in router rank order."""

    expert: str
    text: str


@dataclass
class AggregationResult:
    text: str
    mode: str
    """What actually happened: single | consensus | vote | synthesis | best."""
    answer: str | None = None
    answers: dict[str, str | None] = field(default_factory=dict)
    agreement: float = 1.0
    """Share of extracted answers equal to the chosen one (1.0 when nothing extracts)."""
    aggregator: str | None = None
    calls: list[Any] = field(default_factory=list)
    """Completions made by synthesis (their usage and cost count towards the request)."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "answer": self.answer,
            "answers": dict(self.answers),
            "agreement": round(self.agreement, 4),
            "aggregator": self.aggregator,
            "synthesis_calls": len(self.calls),
            "notes": list(self.notes),
        }


@dataclass
class Aggregator:
    """Stateless policy object; ``settings`` is the ``aggregation`` section of experts.yaml."""

    settings: AggregationSettings = field(default_factory=AggregationSettings)
    temperature: float = 0.7

    def mode_for(self, category: str | None, requested: str | None = None) -> str:
        """The request's mode if given, else the category's, else the default."""
        if requested is not None:
            if requested not in MODES:
                raise ValueError(f"unknown aggregation mode {requested!r}; expected one of {', '.join(MODES)}")
            return requested
        if category is not None and category in self.settings.per_category:
            return self.settings.per_category[category]
        return self.settings.default_mode

    async def aggregate(
        self,
        messages: list[dict],
        candidates: list[Candidate],
        *,
        mode: str = "auto",
        aggregator: str | None = None,
        complete: CompleteFn | None = None,
        params: dict[str, Any] | None = None,
        stream: StreamFn | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> AggregationResult:
        """Merge ``candidates``. With ``stream`` and ``on_delta``, a synthesis streams its final
        round: each token goes to ``on_delta`` as the aggregator produces it."""
        if not candidates:
            raise ValueError("nothing to aggregate: no expert produced a response")
        extracted_all = [extract_answer(c.text) for c in candidates]
        answers = _labelled(candidates, extracted_all)
        if len(candidates) == 1:
            return AggregationResult(candidates[0].text, "single", extracted_all[0], answers)
        if mode == "best":
            top = extracted_all[0]
            return AggregationResult(candidates[0].text, "best", top, answers, _agreement(answers, top))
        extracted = [a for a in extracted_all if a is not None]
        all_agree = len(extracted) == len(candidates) and len(set(extracted)) == 1
        if all_agree and mode in ("auto", "consensus", "vote"):
            result = AggregationResult(candidates[0].text, "consensus", extracted[0], answers, 1.0)
            result.notes.append(f"consensus: all {len(candidates)} answers agree on {extracted[0]!r}; aggregator skipped")
            return result
        if extracted and mode in ("auto", "vote"):
            return _vote(candidates, extracted_all, answers)
        if aggregator is None or complete is None:
            result = _vote(candidates, extracted_all, answers) if extracted else AggregationResult(candidates[0].text, "best", None, answers)
            result.notes.append("synthesis wanted but no aggregator is available")
            return result
        live = (stream, on_delta) if stream is not None and on_delta is not None else None
        return await self._synthesize(messages, candidates, answers, aggregator, complete, params or {}, live)

    async def _synthesize(
        self,
        messages: list[dict],
        candidates: list[Candidate],
        answers: dict[str, str | None],
        aggregator: str,
        complete: CompleteFn,
        params: dict[str, Any],
        live: tuple[StreamFn, Callable[[str], None]] | None = None,
    ) -> AggregationResult:
        limit = self.settings.max_response_chars
        guarded = [(c.expert, final_section(c.text, tail_chars=limit)) for c in candidates]
        notes = [f"truncated {c.expert}'s response" for c, (_, g) in zip(candidates, guarded) if len(g) < len(c.text.strip())]
        rounds = _rounds(guarded, self.settings.max_context_chars)
        if len(rounds) > 1:
            notes.append(f"sequential synthesis in {len(rounds)} rounds (responses exceed {self.settings.max_context_chars} chars)")
        call_params = {"temperature": self.temperature, **params}
        calls: list[Any] = []
        carried: list[tuple[str, str]] = []
        for i, group in enumerate(rounds):
            prompt = synthesis_messages(messages, carried + group)
            if live is not None and i == len(rounds) - 1:
                stream, on_delta = live
                streamed = stream(aggregator, prompt, call_params)
                async for delta in streamed:
                    on_delta(delta)
                completion = streamed.completion
            else:
                completion = await complete(aggregator, prompt, call_params)
            calls.append(completion)
            # Self-MoA-Seq: the running synthesis joins the next group as one more response.
            carried = [("synthesis", final_section(completion.text, tail_chars=limit))]
        text = calls[-1].text
        answer = extract_answer(text)
        return AggregationResult(text, "synthesis", answer, answers, _agreement(answers, answer), aggregator, calls, notes)


def _labelled(candidates: list[Candidate], extracted: list[str | None]) -> dict[str, str | None]:
    """Answers keyed by expert; a repeated expert (sampling mode) gets ``name#2``, ``name#3``..."""
    out: dict[str, str | None] = {}
    for c, a in zip(candidates, extracted):
        label, n = c.expert, 1
        while label in out:
            n += 1
            label = f"{c.expert}#{n}"
        out[label] = a
    return out


def _vote(candidates: list[Candidate], extracted: list[str | None], answers: dict[str, str | None]) -> AggregationResult:
    counts = Counter(a for a in extracted if a is not None)
    best = max(counts.values())
    # Candidates are in rank order: ties go to the answer of the highest-ranked expert.
    winner = next(a for a in extracted if a is not None and counts[a] == best)
    text = next(c.text for c, a in zip(candidates, extracted) if a == winner)
    result = AggregationResult(text, "vote", winner, answers, _agreement(answers, winner))
    result.notes.append(f"vote: {dict(counts)} -> {winner!r}")
    return result


def _agreement(answers: dict[str, str | None], chosen: str | None) -> float:
    extracted = [a for a in answers.values() if a is not None]
    if not extracted or chosen is None:
        return 1.0 if not extracted else 0.0
    return sum(a == chosen for a in extracted) / len(extracted)


def _rounds(responses: list[tuple[str, str]], max_chars: int) -> list[list[tuple[str, str]]]:
    """Split responses into groups whose total text fits ``max_chars`` (at least one per group)."""
    groups: list[list[tuple[str, str]]] = [[]]
    size = 0
    for item in responses:
        if groups[-1] and size + len(item[1]) > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += len(item[1])
    return groups
