"""Grade a model's free-text answer against a gold answer: a letter, a number, or a short string.

The kind comes from the gold itself (a single letter A-J is multiple choice, something that
parses as a number is numeric, anything else is matched as normalised text), so a question file
needs no extra field, though ``kind`` may be given to override. Extraction follows the
conventions of the benchmarks the golds come from: the *last* stated letter or number counts
(models restate options before concluding), "the answer is X" wins when present, and text
matches SQuAD-style (lower case, punctuation and articles dropped) when the gold appears as the
answer or inside a short answer.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

__all__ = ["Grade", "Kind", "extract_letter", "extract_number", "grade", "infer_kind", "normalise"]

Kind = Literal["letter", "number", "exact"]

_LETTERS = "ABCDEFGHIJ"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*\(?\**\s*([A-J])\b\)?", re.IGNORECASE)
# "A" and "I" before a lower-case word are an article and a pronoun, not options.
_LETTER_ALONE = re.compile(r"(?:^|[\s(\[*])((?![AI]\s+[a-z])[A-J])(?:[).\]:*]|\s|$)")


@dataclass(frozen=True)
class Grade:
    score: float  # 1.0 correct, 0.0 wrong or unreadable
    extracted: str | None  # what was read from the answer (None: nothing of the right kind)
    kind: Kind


def infer_kind(gold: str) -> Kind:
    g = gold.strip()
    if len(g) == 1 and g.upper() in _LETTERS:
        return "letter"
    if _to_number(g) is not None:
        return "number"
    return "exact"


def _to_number(text: str) -> float | None:
    t = text.strip().replace(",", "").replace("$", "").rstrip(".")
    try:
        return float(t)
    except ValueError:
        return None


def extract_letter(text: str) -> str | None:
    """The chosen option: "the answer is X" if stated, else a leading letter, else the last lone letter."""
    stated = _ANSWER_IS.findall(text)
    if stated:
        return stated[-1].upper()
    lead = re.match(r"\s*\(?\**([A-J])(?:[).:*]|\s*$|\s*\n)", text)
    if lead:  # "B. Diamond ..." : small models lead with their choice, then discuss the others
        return lead.group(1).upper()
    lone = _LETTER_ALONE.findall(text.strip())
    return lone[-1].upper() if lone else None


def extract_number(text: str) -> str | None:
    """The final number of the answer ("####", \\boxed{} and "answer is" take precedence)."""
    for pattern in (r"####\s*(.+)", r"\\boxed\{([^}]*)\}", r"answer\s*(?:is|:)\s*([^\n]+)"):
        found = re.findall(pattern, text, re.IGNORECASE)
        if found:
            nums = _NUMBER.findall(found[-1])
            if nums:
                return nums[0].replace(",", "")
    nums = _NUMBER.findall(text)
    return nums[-1].replace(",", "") if nums else None


def normalise(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    t = text.lower()
    t = "".join(ch for ch in t if ch not in set(string.punctuation))
    t = re.sub(r"\b(a|an|the)\b", " ", t)
    return " ".join(t.split())


def grade(answer: str, gold: str | list[str], kind: Kind | None = None) -> Grade:
    """Score ``answer`` against ``gold`` (any of several golds counts)."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    if not golds:
        raise ValueError("grade() needs at least one gold answer")
    kind = kind or infer_kind(golds[0])
    if kind == "letter":
        got = extract_letter(answer)
        return Grade(float(got is not None and got in {g.strip().upper() for g in golds}), got, kind)
    if kind == "number":
        got = extract_number(answer)
        value = _to_number(got) if got is not None else None
        ok = value is not None and any((g_val := _to_number(g)) is not None and abs(value - g_val) <= 1e-6 * max(1.0, abs(g_val)) for g in golds)
        return Grade(float(ok), got, kind)
    said = normalise(answer)
    first_line = normalise(answer.strip().splitlines()[0]) if answer.strip() else ""
    targets = [normalise(g) for g in golds if normalise(g)]
    # Exact on the whole answer or its first line; or the gold inside a short answer (<= 12 words).
    ok = any(t in (said, first_line) or (len(said.split()) <= 12 and re.search(rf"\b{re.escape(t)}\b", said)) for t in targets)
    return Grade(float(bool(ok)), first_line or None, kind)
