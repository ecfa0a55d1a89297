"""Quote checking: a debater's ``<quote>...</quote>`` is verified when it appears, word for word
after normalisation, in the question or a retrieved passage; the judge sees which ones did.

Normalisation lower-cases, folds curly quotes and collapses whitespace, so a quote survives
re-wrapping but not rewording (Khan et al. string-match the same way).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["QuoteCheck", "check_quotes", "normalise_quote"]

_QUOTE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL | re.IGNORECASE)
_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalise_quote(text: str) -> str:
    text = text.translate(_FOLD).lower()
    return " ".join(text.split()).strip(" .,;:!?\"'")


@dataclass(frozen=True)
class QuoteCheck:
    text: str
    verified: bool

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "verified": self.verified}


def check_quotes(speech: str, sources: Sequence[str]) -> tuple[str, list[QuoteCheck]]:
    """The speech with every quote tagged verified or unverified, and the checks themselves."""
    haystack = [normalise_quote(s) for s in sources if s]
    checks: list[QuoteCheck] = []

    def mark(match: re.Match[str]) -> str:
        quoted = match.group(1)
        needle = normalise_quote(quoted)
        ok = bool(needle) and any(needle in h for h in haystack)
        checks.append(QuoteCheck(quoted.strip(), ok))
        status = "verified" if ok else "unverified"
        return f'<quote status="{status}">{quoted.strip()}</quote>'

    return _QUOTE.sub(mark, speech), checks
