"""Baselines the scheduler is measured against: requests served in arrival order.

* :class:`FifoDispatcher` is a gateway without a scheduler: every request goes straight to its
  expert, and a sleeping expert is woken on demand (the least recently used one is put to
  sleep to make room, waiting for its running requests).
* :class:`KeepAliveDispatcher` is what a model cache does (Ollama's ``keep_alive``, an LRU of
  loaded models): arrival order too, but a resident is evicted only once it has been idle for
  ``keep_alive_s``; a request for a sleeping expert waits until one has.

Kept in the library so benchmarks and tests compare the scheduler with them in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from orchestrator.experts.client import ExpertClient
from orchestrator.experts.types import Completion
from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["FifoDispatcher", "KeepAliveDispatcher"]


class FifoDispatcher:
    def __init__(self, client: ExpertClient, residency: ResidencyManager, *, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.residency = residency
        self._clock = clock
        self._waits: list[float] = []
        self.completed = 0
        self.failed = 0

    async def submit(self, expert: str, messages: list[dict], params: dict | None = None) -> Completion:
        arrived = self._clock()
        async with self._awake(expert):
            self._waits.append(self._clock() - arrived)
            try:
                result = await self.client.complete(expert, messages, params)
            except Exception:
                self.failed += 1
                raise
        self.completed += 1
        return result

    def _awake(self, expert: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold ``expert`` awake, woken on demand in arrival order (the swap lock is FIFO)."""
        return self.residency.use(expert)

    def stats(self) -> dict[str, Any]:
        waits = np.asarray(self._waits) if self._waits else np.zeros(1)
        return {
            "wait_p50_s": float(np.percentile(waits, 50)),
            "wait_p99_s": float(np.percentile(waits, 99)),
            "wait_max_s": float(waits.max()),
            "swaps": self.residency.wakes,
            "completed": self.completed,
            "failed": self.failed,
            "residency": self.residency.stats(),
        }


class KeepAliveDispatcher(FifoDispatcher):
    """FIFO with an LRU keep-alive residency: only experts idle for ``keep_alive_s`` are evicted."""

    def __init__(self, client: ExpertClient, residency: ResidencyManager, *, keep_alive_s: float, poll_s: float = 0.01,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        super().__init__(client, residency, clock=clock)
        self.keep_alive_s = keep_alive_s
        self.poll_s = poll_s
        self._swap = asyncio.Lock()  # one swap at a time, waiters in arrival order

    @contextlib.asynccontextmanager
    async def _awake(self, expert: str) -> AsyncIterator[None]:
        while not self.residency.try_pin(expert):
            async with self._swap:
                if self.residency.is_awake(expert):
                    continue  # woken for an earlier request while this one waited
                await self.residency.swap_in(expert, await self._idle_victims(expert))
        try:
            yield
        finally:
            self.residency.unpin(expert)

    async def _idle_victims(self, expert: str) -> list[str]:
        """Least recently used residents, idle past their keep-alive, enough to fit ``expert``."""
        while True:
            now = self._clock()
            idle = sorted(
                (n for n in self.residency.awake if not self.residency.in_use(n) and now - self.residency.last_used(n) >= self.keep_alive_s),
                key=self.residency.last_used,
            )
            victims: list[str] = []
            room = self.residency.free_gb()
            for name in idle:
                if room >= self.residency.memory_gb(expert):
                    break
                victims.append(name)
                room += self.residency.memory_gb(name)
            if room >= self.residency.memory_gb(expert):
                return victims
            await asyncio.sleep(self.poll_s)
