"""Gateway state shared by replicas when ``gateway.redis_url`` (or ``redis_url_env``) is set:
per-key rate limits and residency leases live in Redis; otherwise both stay in this process.

Redis unreachable, per ``gateway.redis_failure``: ``open`` admits requests without a limit
(and logs it), ``closed`` answers 503 with ``Retry-After``. Never a 500.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from orchestrator.config import Config
from orchestrator.scheduling.coordination import redis_client
from services.gateway.errors import GatewayHTTPError
from services.gateway.ratelimit import RateLimiter

__all__ = ["RedisRateLimiter", "make_limiter"]

log = logging.getLogger("orchestrator.gateway")

# A token bucket per key, refilled from Redis's own clock so replicas' clocks do not matter.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + (now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same bucket as :class:`RateLimiter` (rpm a minute, bursts of one minute), in Redis."""

    def __init__(self, rpm: int, url: str, *, failure: Literal["open", "closed"] = "open", prefix: str = "orchestrator:ratelimit"):
        self.rpm = rpm
        self.failure = failure
        self._prefix = prefix
        self._redis = redis_client(url, timeout_s=1.0)
        self._script = self._redis.register_script(_BUCKET)
        self._warned_at = 0.0

    async def acquire(self, key: str) -> float:
        try:
            return float(await self._script(keys=[f"{self._prefix}:{key}"], args=[self.rpm, self.rpm / 60.0]))
        except Exception as exc:
            if not type(exc).__module__.startswith("redis"):
                raise
            if time.monotonic() - self._warned_at > 10:
                self._warned_at = time.monotonic()
                log.warning("rate limiter: Redis unreachable (%s); failing %s", exc, self.failure)
            if self.failure == "open":
                return 0.0
            raise GatewayHTTPError(503, "The rate limiter is unavailable; retry shortly.", headers={"Retry-After": "1"}) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_limiter(config: Config) -> RateLimiter | RedisRateLimiter | None:
    settings = config.gateway
    if not settings.rate_limit_rpm:
        return None
    url = settings.resolved_redis_url()
    if url:
        return RedisRateLimiter(settings.rate_limit_rpm, url, failure=settings.redis_failure)
    return RateLimiter(settings.rate_limit_rpm)
