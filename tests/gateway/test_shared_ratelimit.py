"""Rate limits per key shared by gateway replicas through a real redis-server; Redis down is
the configured behaviour (fail open admits, fail closed is a 503), never a 500."""

from __future__ import annotations

import pytest
from redis_server import redis_server  # noqa: F401 - fixture

from services.gateway.errors import GatewayHTTPError
from services.gateway.shared_state import RedisRateLimiter

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_two_replicas_draw_from_one_bucket_per_key(redis_server):  # noqa: F811
    a, b = RedisRateLimiter(10, redis_server.url), RedisRateLimiter(10, redis_server.url)
    try:
        waits = [await (a if i % 2 else b).acquire("key:alice") for i in range(14)]
        assert waits[:10] == [0.0] * 10 and all(w > 0 for w in waits[10:])  # 10 a minute across both
        assert await a.acquire("key:bob") == 0.0  # per key, not global
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_redis_down_follows_the_configured_failure_mode(redis_server, failure):  # noqa: F811
    limiter = RedisRateLimiter(10, redis_server.url, failure=failure)
    try:
        assert await limiter.acquire("key:alice") == 0.0
        redis_server.stop()
        if failure == "open":
            assert await limiter.acquire("key:alice") == 0.0
        else:
            with pytest.raises(GatewayHTTPError) as info:
                await limiter.acquire("key:alice")
            assert info.value.status == 503
    finally:
        await limiter.aclose()
