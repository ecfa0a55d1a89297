"""Residency shared by several gateway replicas: who may swap, and which experts are confirmed awake.

With one replica the :class:`ResidencyManager` alone knows who is awake. With N replicas each
would believe its own view, and one replica putting an expert to sleep under another's requests
makes those hang (vLLM does not answer while asleep). The :class:`RedisCoordinator` keeps, in Redis:

- ``lock``: one swap at a time across every replica (SET NX PX, released by token);
- ``awake:{expert}``: "1" only after a confirmed ``/wake_up`` (or ``/is_sleeping`` said awake),
  "0" after a confirmed ``/sleep``;
- ``draining:{expert}``: set by the replica about to sleep the expert;
- ``holds:{expert}``: a sorted set of replica id -> lease expiry (ms). A replica dispatches to an
  expert only while it holds an unexpired lease taken when the expert was awake and not draining.

To sleep an expert a replica takes the lock, sets ``draining``, and waits until every other
replica has released its hold; a replica releases once it has stopped dispatching to that expert
and its own in-flight requests have finished (or its lease expired: a crashed replica holds
nothing for longer than ``lease_s``). Only then ``/sleep`` is sent. So no request ever reaches a
sleeping server, whichever replica sent it.

Redis unreachable: no replica can swap (a swap fails with :class:`ExpertUnavailable`, a 503);
with ``failure="open"`` replicas keep dispatching to experts they hold (nobody can sleep them
while Redis is down for everyone), with ``"closed"`` their leases lapse and requests get 503s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, Protocol

from orchestrator.config import Config
from orchestrator.errors import ExpertUnavailable

__all__ = ["InProcessCoordinator", "RedisCoordinator", "ResidencyCoordinator", "coordinator_for", "redis_client"]

_log = logging.getLogger(__name__)

_TAKE = """
if redis.call('GET', KEYS[1]) == '1' and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
  return 1
end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def redis_client(url: str, *, timeout_s: float) -> Any:
    """An asyncio Redis client that fails fast: no built-in retries with backoff (seconds each),
    so a dead Redis becomes the documented open/closed behaviour at once, not a stalled request."""
    import redis.asyncio as aioredis  # optional dependency: only with gateway.redis_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0))


class ResidencyCoordinator(Protocol):
    """What the residency manager asks before dispatching, sleeping and waking."""

    @property
    def available(self) -> bool:
        """False while the shared store is unreachable (swaps fail at once then)."""
        ...

    async def start(self, experts: list[str], pins: Callable[[str], int], set_awake: Callable[[str, bool], None]) -> None: ...

    def confirmed(self, expert: str) -> bool:
        """May this replica send a request to ``expert`` now (sync: called on every dispatch)?"""
        ...

    def swap_lock(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def shared_awake(self) -> dict[str, bool]:
        """Every replica's view of who is awake (only experts somebody has confirmed)."""
        ...

    async def take(self, expert: str) -> bool: ...

    async def before_sleep(self, expert: str) -> None: ...

    async def after_sleep(self, expert: str) -> None: ...

    async def after_wake(self, expert: str) -> None: ...

    async def aclose(self) -> None: ...


class InProcessCoordinator:
    """One replica: the residency manager's own lock and pins already suffice."""

    available = True

    async def start(self, experts: list[str], pins: Callable[[str], int], set_awake: Callable[[str, bool], None]) -> None:
        return None

    def confirmed(self, expert: str) -> bool:
        return True

    @contextlib.asynccontextmanager
    async def swap_lock(self) -> AsyncIterator[None]:
        yield

    async def shared_awake(self) -> dict[str, bool]:
        return {}

    async def take(self, expert: str) -> bool:
        return True

    async def before_sleep(self, expert: str) -> None:
        return None

    async def after_sleep(self, expert: str) -> None:
        return None

    async def after_wake(self, expert: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RedisCoordinator:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "orchestrator:residency",
        lease_s: float = 3.0,
        poll_s: float = 0.05,
        lock_timeout_s: float = 60.0,
        failure: Literal["open", "closed"] = "open",
        replica_id: str | None = None,
    ):
        self._redis = redis_client(url, timeout_s=2.0)
        self._prefix = prefix
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.lock_timeout_s = lock_timeout_s
        self.failure = failure
        self.replica_id = replica_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._experts: list[str] = []
        self._pins: Callable[[str], int] = lambda _e: 0
        self._set_awake: Callable[[str, bool], None] = lambda _e, _a: None
        self._held: dict[str, float] = {}  # expert -> local deadline (monotonic) of the lease
        self._draining: set[str] = set()
        self._redis_ok = True
        self._task: asyncio.Task | None = None
        self._take = self._redis.register_script(_TAKE)
        self._unlock = self._redis.register_script(_UNLOCK)

    def _k(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    # ------------------------------------------------------------------ lifecycle

    async def start(self, experts: list[str], pins: Callable[[str], int], set_awake: Callable[[str, bool], None]) -> None:
        self._experts, self._pins, self._set_awake = list(experts), pins, set_awake
        self._task = asyncio.create_task(self._watch(), name="residency-coordinator")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with self._redis.pipeline(transaction=False) as pipe:
                for expert in self._held:
                    pipe.zrem(self._k("holds", expert), self.replica_id)
                await pipe.execute()
        self._held.clear()
        await self._redis.aclose()

    @property
    def available(self) -> bool:
        return self._redis_ok

    # ------------------------------------------------------------------ dispatch side

    def confirmed(self, expert: str) -> bool:
        deadline = self._held.get(expert)
        if deadline is None or expert in self._draining:
            return False
        # Redis down for everyone means nobody can sleep it: fail open keeps serving what we hold.
        return time.monotonic() < deadline or (not self._redis_ok and self.failure == "open")

    async def take(self, expert: str) -> bool:
        expiry = int((time.time() + self.lease_s) * 1000)
        ok = await self._guard(
            self._take(keys=[self._k("awake", expert), self._k("draining", expert), self._k("holds", expert)], args=[expiry, self.replica_id])
        )
        if ok:
            self._held[expert] = time.monotonic() + self.lease_s * 0.8  # stop before Redis expires it
            self._draining.discard(expert)
        return bool(ok)

    async def _watch(self) -> None:
        """Renew leases, follow other replicas' drains and wakes, release what they wait for."""
        while True:
            try:
                await self._tick()
                self._redis_ok = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down: keep trying, leases lapse per `failure`
                if self._redis_ok:
                    _log.warning("residency coordination: Redis unreachable (%s); swaps are refused until it returns", exc)
                self._redis_ok = False
            await asyncio.sleep(self.poll_s)

    async def _tick(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for e in self._experts:
                pipe.get(self._k("awake", e))
                pipe.exists(self._k("draining", e))
            values = await pipe.execute()
        expiry = int((time.time() + self.lease_s) * 1000)
        renew: list[str] = []
        for i, e in enumerate(self._experts):
            awake, draining = values[2 * i], bool(values[2 * i + 1])
            if awake is not None:
                self._set_awake(e, awake == b"1")
            if e in self._held:
                if draining or awake != b"1":
                    # Stop dispatching; release once our own requests have finished.
                    self._draining.add(e)
                    if self._pins(e) == 0:
                        await self._redis.zrem(self._k("holds", e), self.replica_id)
                        self._held.pop(e, None)
                        self._draining.discard(e)
                else:
                    renew.append(e)
            elif awake == b"1" and not draining:
                await self.take(e)
        if renew:
            # Renew through the same check as taking: a lease Redis lost (a restart) is not renewed.
            async with self._redis.pipeline(transaction=False) as pipe:
                for e in renew:
                    self._take(keys=[self._k("awake", e), self._k("draining", e), self._k("holds", e)], args=[expiry, self.replica_id], client=pipe)
                results = await pipe.execute()
            now = time.monotonic()
            for e, ok in zip(renew, results, strict=True):
                if e not in self._held:
                    continue
                if ok:
                    self._held[e] = now + self.lease_s * 0.8
                else:
                    self._draining.add(e)  # stop sending; the next tick releases it once idle

    # ------------------------------------------------------------------ swap side

    @contextlib.asynccontextmanager
    async def swap_lock(self) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        key = self._k("lock")
        give_up = time.monotonic() + self.lock_timeout_s
        while not await self._guard(self._redis.set(key, token, nx=True, px=int(self.lock_timeout_s * 2000))):
            if time.monotonic() > give_up:
                raise ExpertUnavailable("residency", f"another replica held the swap lock for over {self.lock_timeout_s:g} s")
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await self._unlock(keys=[key], args=[token])

    async def shared_awake(self) -> dict[str, bool]:
        values = await self._guard(self._redis.mget([self._k("awake", e) for e in self._experts]))
        return {e: v == b"1" for e, v in zip(self._experts, values, strict=True) if v is not None}

    async def before_sleep(self, expert: str) -> None:
        """Announce the drain, then wait until no other replica holds a live lease on ``expert``."""
        await self._guard(self._redis.set(self._k("draining", expert), self.replica_id, px=int(self.lock_timeout_s * 2000)))
        self._draining.add(expert)
        holds = self._k("holds", expert)
        give_up = time.monotonic() + self.lock_timeout_s
        while True:
            now_ms = int(time.time() * 1000)
            await self._guard(self._redis.zremrangebyscore(holds, "-inf", now_ms))  # crashed replicas' leases
            others = [m for m in await self._guard(self._redis.zrange(holds, 0, -1)) if m.decode() != self.replica_id]
            if not others:
                break
            if time.monotonic() > give_up:  # a live replica still sends to it: sleeping now would hang its requests
                await self._guard(self._redis.delete(self._k("draining", expert)))
                self._draining.discard(expert)
                raise ExpertUnavailable(expert, f"still in use by {len(others)} other replica(s) after {self.lock_timeout_s:g} s; not put to sleep")
            await asyncio.sleep(self.poll_s / 2)
        await self._guard(self._redis.zrem(holds, self.replica_id))
        self._held.pop(expert, None)

    async def after_sleep(self, expert: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._k("awake", expert), "0")
            pipe.delete(self._k("draining", expert))
            await self._guard(pipe.execute())
        self._draining.discard(expert)

    async def after_wake(self, expert: str) -> None:
        await self._guard(self._redis.set(self._k("awake", expert), "1"))
        await self.take(expert)

    async def _guard(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except Exception as exc:
            if type(exc).__module__.startswith("redis"):
                self._redis_ok = False
                raise ExpertUnavailable("residency", f"Redis is unreachable, so no replica may sleep or wake experts: {exc}") from exc
            raise


def coordinator_for(config: Config) -> ResidencyCoordinator | None:
    """Redis-backed when ``gateway.redis_url`` (or ``redis_url_env``) is set; else None (this process alone)."""
    url = config.gateway.resolved_redis_url()
    return RedisCoordinator(url, failure=config.gateway.redis_failure) if url else None
