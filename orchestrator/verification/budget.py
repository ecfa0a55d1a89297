"""Per-request caps on verification: rounds, tokens and USD.

Spending is checked *before* each step against an estimate of that step (the cost of the same
step last time, or a price-based guess the first time), so a cap stops verification before it
overspends rather than after; at a cap the caller returns the best verdict so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Budget", "Spend"]


@dataclass
class Spend:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, completions: Iterable[Any]) -> Spend:
        for c in completions:
            self.prompt_tokens += int(c.prompt_tokens)
            self.completion_tokens += int(c.completion_tokens)
            self.cost_usd += float(c.cost_usd)
            self.calls += 1
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "calls": self.calls,
        }


@dataclass
class Budget:
    max_rounds: int
    max_tokens: int | None = None
    max_usd: float | None = None
    spent: Spend = field(default_factory=Spend)

    def allows(self, tokens: int, usd: float) -> str | None:
        """``None`` when a step estimated at (tokens, usd) fits, else the name of the cap it breaks."""
        if self.max_tokens is not None and self.spent.tokens + tokens > self.max_tokens:
            return "token_cap"
        if self.max_usd is not None and self.spent.cost_usd + usd > self.max_usd:
            return "usd_cap"
        return None
