"""Pull a short, comparable final answer out of a free-text response.

Aggregation can only count votes or notice consensus when answers are comparable, so this
module reduces a response to a canonical form: a multiple-choice letter (``"B"``), a number
(``"18"`` for ``"$18.00"``), or the normalised contents of a ``\\boxed{...}``. When nothing
extracts, :func:`extract_answer` returns ``None`` and the aggregator falls back to synthesis.

Reasoning models think before they answer; only the text after the reasoning-end marker counts.
"""

from __future__ import annotations

import re

__all__ = ["extract_answer", "final_section", "normalize_answer", "strip_reasoning"]

_THINK_END = re.compile(r"</think>|</reasoning>", re.IGNORECASE)
_FINAL_LINE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:)\s*[:\-]?\s*(?P<ans>.+?)\s*(?:\.\s*)?$",
    re.IGNORECASE | re.MULTILINE,
)
_LETTER = re.compile(r"^\(?(?P<letter>[A-J])\)?(?:[.):\s]|$)")
_NUMBER = re.compile(r"^[-+]?\$?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*%?$")
_ANY_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_FRACTION = re.compile(r"^\\d?frac\{(?P<n>-?\d+)\}\{(?P<d>-?\d+)\}$")


def strip_reasoning(text: str) -> str:
    """The part of ``text`` after the last reasoning-end marker (all of it when there is none)."""
    parts = _THINK_END.split(text)
    return parts[-1].strip() if len(parts) > 1 else text.strip()


def _boxed(text: str) -> str | None:
    """Contents of the last ``\\boxed{...}``, balancing nested braces."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def _format_number(value: str) -> str:
    cleaned = value.replace(",", "").replace("$", "").replace("%", "").replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        return value
    # "18.0", "18" and "18.00" are the same answer.
    return str(int(number)) if number.is_integer() else repr(round(number, 9))


def normalize_answer(answer: str) -> str:
    """Canonical form of an extracted answer: letter, number, or trimmed lower-case text."""
    ans = answer.strip().strip("*").strip()
    ans = re.sub(r"^\$+|\$+$", "", ans).strip() if ans.count("$") >= 2 else ans
    ans = ans.rstrip(".").strip()
    letter = _LETTER.match(ans)
    if letter and (len(ans) <= 3 or ans[1:2] in ").:"):
        return letter.group("letter")
    if _NUMBER.match(ans):
        return _format_number(ans)
    frac = _FRACTION.match(ans.replace(" ", ""))
    if frac and int(frac.group("d")) != 0:
        return _format_number(str(int(frac.group("n")) / int(frac.group("d"))))
    if ans.startswith("\\text{") and ans.endswith("}"):
        ans = ans[len("\\text{") : -1]
    return " ".join(ans.lower().split())


def extract_answer(text: str) -> str | None:
    """The canonical final answer in ``text``, or ``None`` when it has no recognisable one.

    Tried in order: the last ``\\boxed{}``; the last "answer is X" / "Answer: X" line; a response
    that *is* just a letter or a number.
    """
    body = strip_reasoning(text)
    if not body:
        return None
    boxed = _boxed(body)
    if boxed is not None and boxed.strip():
        return normalize_answer(boxed)
    finals = list(_FINAL_LINE.finditer(body))
    if finals:
        ans = finals[-1].group("ans")
        ans = _boxed(ans) or ans
        norm = normalize_answer(ans)
        if len(norm) <= 64:
            return norm
        number = _ANY_NUMBER.search(ans)
        return _format_number(number.group()) if number else None
    short = body.strip()
    if len(short) <= 16:
        norm = normalize_answer(short)
        if len(norm) == 1 or _NUMBER.match(short.rstrip(".")):
            return norm
    return None


def final_section(text: str, *, tail_chars: int) -> str:
    """The final-answer part of ``text`` plus its last ``tail_chars`` characters.

    Used by the context guard: the aggregator needs each response's conclusion and the
    reasoning closest to it, not the whole derivation.
    """
    body = strip_reasoning(text)
    if len(body) <= tail_chars:
        return body
    tail = body[-tail_chars:]
    finals = list(_FINAL_LINE.finditer(body))
    if finals and finals[-1].start() < len(body) - tail_chars:
        line = finals[-1].group(0).strip()
        return f"{line}\n[...]\n{tail}"
    return f"[...]\n{tail}"
