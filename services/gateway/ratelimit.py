"""Per-key token buckets: ``rate_limit_rpm`` requests a minute, bursts up to one minute's worth.

Counters live in this process; with several gateway replicas, ``gateway.redis_url`` moves them
to Redis (:class:`services.gateway.shared_state.RedisRateLimiter`, the same bucket).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    rpm: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def rate_per_s(self) -> float:
        return self.rpm / 60.0

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # bounded memory; forgetting idle keys only ever allows more
            bucket = self._buckets[key] = _Bucket(float(self.rpm), now)
        bucket.tokens = min(float(self.rpm), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s
