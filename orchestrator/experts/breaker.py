"""A circuit breaker per endpoint: stop calling a server that keeps failing, probe it later.

closed --(N consecutive failures)--> open --(cool-down passes)--> half-open
half-open --(the one probe succeeds)--> closed;  half-open --(probe fails)--> open again.

While open every call is refused at once (no connection attempt); in half-open exactly one
call at a time goes through as the probe. The clock is injected so tests run in no time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, cooldown_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def retry_after_s(self) -> float:
        """Seconds until a probe is allowed (0 when calls may go through)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open this admits the single probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        if self._probing:
            return False
        self._state = BreakerState.HALF_OPEN
        self._probing = True
        return True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> bool:
        """Count a failure; return True when this failure opened the breaker."""
        self._failures += 1
        was_open = self._state is BreakerState.OPEN
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._probing = False
            return not was_open
        return False

    def release_probe(self) -> None:
        """The probe ended without a verdict (e.g. a client error): let another call probe."""
        self._probing = False
