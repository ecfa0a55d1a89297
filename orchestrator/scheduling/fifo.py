"""The naive baseline: serve requests in arrival order, waking whatever expert each one needs.

This is what a gateway without a scheduler does: every request goes straight to its expert,
and a sleeping expert is woken on demand (sleeping the least recently used one to make room).
Kept in the library so benchmarks and tests compare the scheduler with it in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.experts.client import ExpertClient
from orchestrator.experts.types import Completion
from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["FifoDispatcher"]


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
        async with self.residency.use(expert):  # wakes on demand, in arrival order (the swap lock is FIFO)
            self._waits.append(self._clock() - arrived)
            try:
                result = await self.client.complete(expert, messages, params)
            except Exception:
                self.failed += 1
                raise
        self.completed += 1
        return result

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
