"""The judge: one probability per answer, parsed tolerantly, asked in both answer orders.

A weak model rarely follows a format exactly, so :func:`parse_probability` accepts
``P(A)=0.7``, ``P(A): 70%``, ``p(a) = .7``, a ``P(B)=...`` line (read as ``1 - P(A)``), or a
reply that is nothing but a number. Anything else is malformed: the judge is asked once more,
then the verdict is given up (the caller ships the answer unverified and flagged). A judge that
times out or errors gets the same one retry.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.aggregation import strip_reasoning
from orchestrator.errors import ExpertError
from orchestrator.verification.caller import CallResult, ExpertCaller
from orchestrator.verification.prompts import JUDGE_REASK, Turn, judge_messages

__all__ = ["JudgeFailure", "JudgeVerdict", "ask_judge", "judge_both_orders", "parse_probability"]

_NUM = r"(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<pct>%)?"
_LABELLED = re.compile(r"P\s*\(\s*(?P<label>[AB])\s*\)\s*(?:=|:|is)\s*" + _NUM, re.IGNORECASE)
_BARE = re.compile(r"^\s*" + _NUM + r"\s*$")


def _value(match: re.Match[str]) -> float | None:
    raw = match.group("num")
    value = float(raw)
    # "70" and "70%" mean 70%; "1.5" means nothing.
    if match.group("pct") or (value > 1 and "." not in raw):
        value /= 100
    return value if 0.0 <= value <= 1.0 else None


def parse_probability(text: str) -> float | None:
    """P(answer A is correct) from a judge's reply, or ``None`` when the reply has none."""
    body = strip_reasoning(text or "")
    found = list(_LABELLED.finditer(body))
    if found:
        last = found[-1]  # a judge that thinks aloud states its final figure last
        value = _value(last)
        if value is None:
            return None
        return value if last.group("label").upper() == "A" else 1.0 - value
    bare = _BARE.match(body)
    return _value(bare) if bare else None


class JudgeFailure(Exception):
    """The judge gave no usable probability after one retry; ``kind`` is malformed|timeout|error."""

    def __init__(self, kind: str, detail: str, calls: Sequence[CallResult] = ()):
        super().__init__(f"judge {kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.calls = list(calls)


@dataclass
class JudgeVerdict:
    p_first: float
    """P(the first of the two answers is correct), averaged over the orders asked."""
    by_order: list[float] = field(default_factory=list)
    calls: list[Any] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)


async def ask_judge(call: ExpertCaller, judge: str, messages: list[dict[str, str]], params: dict[str, Any], timeout_s: float) -> tuple[float, list[Any], list[str]]:
    """Ask once; on malformed output, timeout or error ask once more; else raise :class:`JudgeFailure`."""
    calls: list[Any] = []
    raw: list[str] = []
    failure = ("malformed", "")
    for attempt in range(2):
        asked = messages
        if attempt and failure[0] == "malformed":
            asked = [*messages, {"role": "assistant", "content": raw[-1]}, {"role": "user", "content": JUDGE_REASK}]
        try:
            completion = await asyncio.wait_for(call(judge, asked, params), timeout_s)
        except TimeoutError:
            failure = ("timeout", f"no reply within {timeout_s:g} s")
            continue
        except ExpertError as exc:
            failure = ("error", str(exc))
            continue
        calls.append(completion)
        raw.append(completion.text)
        p = parse_probability(completion.text)
        if p is not None:
            return p, calls, raw
        failure = ("malformed", f"no P(A)=<number> in {completion.text[:120]!r}")
    raise JudgeFailure(failure[0], failure[1], calls)


async def judge_both_orders(
    call: ExpertCaller,
    judge: str,
    question: str,
    first: str,
    second: str,
    turns: Sequence[Turn],
    *,
    both_orders: bool,
    timeout_s: float,
    params: dict[str, Any],
) -> JudgeVerdict:
    """P(first is correct): the answers shown as (first, second) and, with ``both_orders``, as
    (second, first) with the speakers relabelled; the two readings are averaged."""
    asks = [ask_judge(call, judge, judge_messages(question, first, second, turns), params, timeout_s)]
    if both_orders:
        asks.append(ask_judge(call, judge, judge_messages(question, second, first, turns, swapped=True), params, timeout_s))
    results = await asyncio.gather(*asks, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        spent = [c for r in results if not isinstance(r, BaseException) for c in r[1]]
        for f in failures:
            if not isinstance(f, JudgeFailure):
                raise f
            spent.extend(f.calls)
        first_failure = failures[0]
        assert isinstance(first_failure, JudgeFailure)
        raise JudgeFailure(first_failure.kind, first_failure.detail, spent)
    readings = [results[0][0]] + ([1.0 - results[1][0]] if both_orders else [])
    calls = [c for r in results for c in r[1]]
    raw = [t for r in results for t in r[2]]
    return JudgeVerdict(sum(readings) / len(readings), readings, calls, raw)
