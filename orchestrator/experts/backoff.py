"""Retry timing: exponential backoff with full jitter.

Full jitter (a uniform draw in ``[0, min(cap, base * 2**attempt)]``) spreads the retries of
many clients that failed together, so they do not hit a recovering server in lock-step
(AWS Architecture Blog, "Exponential Backoff and Jitter").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    base_s: float = 0.1
    max_s: float = 2.0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay before retry number ``attempt`` (0-based)."""
        return min(self.max_s, self.base_s * (2**attempt))

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, self.ceiling(attempt))
