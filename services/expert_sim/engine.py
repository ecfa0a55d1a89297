"""The simulated engine: admission (``max_num_seqs`` and a KV-cache budget), latency and sleep.

Like vLLM's scheduler, at most ``max_num_seqs`` requests run at once and a request is only
admitted when its KV cache (prompt + max new tokens) fits in the budget; everything else waits
in arrival order. Time to first token grows with the prompt and with queueing; the gap
between tokens grows with the running batch. Sleep mode follows vLLM 0.17+: ``/sleep`` pauses
scheduling first, new requests are accepted but held until a full wake-up, and in-flight
requests are aborted (``mode=abort``, the default), drained (``wait``) or paused (``keep``).
Every delay is multiplied by ``time_scale`` (0 = instant).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from services.expert_sim.settings import SimSettings

SleepMode = Literal["abort", "wait", "keep"]
ALL_TAGS = frozenset({"weights", "kv_cache"})

# Sleep/wake costs measured with vLLM 0.11 on an A100 (blog.vllm.ai, 2025-10-26): L1 wake
# 0.26 s (Qwen3-0.6B) and 0.82 s (4.2B); L2 wake 0.85 s and 2.58 s. A line through the two
# points per level gives ~1.3 s / ~4.2 s for a 7.6B model and ~4.8 s L1 for 30B, inside the
# blog's "3-6 s" for large models.
_WAKE_L1 = (0.167, 0.156)  # (seconds at 0B, seconds per billion parameters)
_WAKE_L2 = (0.562, 0.481)
# Going to sleep: level 1 copies the weights to CPU RAM (about as long as copying them back);
# level 2 just frees memory.
_SLEEP_L1 = _WAKE_L1
_SLEEP_L2 = (0.05, 0.002)


def _linear(coef: tuple[float, float], params_b: float) -> float:
    return coef[0] + coef[1] * params_b


def wake_seconds(level: int, params_b: float) -> float:
    """Unscaled seconds for a wake-up from ``level`` (0 = paused only)."""
    if level == 0:
        return 0.0
    return _linear(_WAKE_L1 if level == 1 else _WAKE_L2, params_b)


def sleep_seconds(level: int, params_b: float) -> float:
    if level == 0:
        return 0.0
    return _linear(_SLEEP_L1 if level == 1 else _SLEEP_L2, params_b)


# Level 0 only pauses scheduling: vLLM then reports none of its three states (awake = 0 too).
SLEEP_STATE_NAMES = {None: "awake", 0: "paused", 1: "weights_offloaded", 2: "discard_all"}


@dataclass
class Ticket:
    """One admitted request: the KV tokens it holds and the abort epoch it started in."""

    kv_tokens: int
    epoch: int
    admitted_at: float = 0.0


@dataclass
class Engine:
    settings: SimSettings
    running: int = 0
    kv_used: int = 0
    sleep_level: int | None = None  # None: awake
    asleep_tags: set[str] = field(default_factory=set)
    abort_epoch: int = 0
    _queue: deque[tuple[int, asyncio.Future[None]]] = field(default_factory=deque)
    _awake: asyncio.Event = field(default_factory=asyncio.Event)  # admission open
    _executing: asyncio.Event = field(default_factory=asyncio.Event)  # in-flight requests may decode
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _transition: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._awake.set()
        self._executing.set()
        self._idle.set()

    # ------------------------------------------------------------------ state
    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def kv_usage(self) -> float:
        return min(1.0, self.kv_used / self.settings.kv_capacity)

    @property
    def is_sleeping(self) -> bool:
        return self.sleep_level is not None

    @property
    def sleep_state(self) -> str:
        return SLEEP_STATE_NAMES[self.sleep_level]

    # ------------------------------------------------------------------ latency model
    def scaled(self, seconds: float) -> float:
        return seconds * self.settings.time_scale

    def prefill_seconds(self, prompt_tokens: int) -> float:
        s = self.settings
        ms = s.ttft_base_ms + s.ttft_per_1k_prompt_tokens_ms * s.size_factor * prompt_tokens / 1000
        return self.scaled(ms / 1000)

    def inter_token_seconds(self) -> float:
        s = self.settings
        ms = (s.itl_ms + s.itl_per_running_seq_ms * self.running) * s.size_factor
        return self.scaled(ms / 1000)

    async def wait(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    # ------------------------------------------------------------------ admission
    def _fits(self, kv_tokens: int) -> bool:
        if not self._awake.is_set() or self.running >= self.settings.max_num_seqs:
            return False
        # A request larger than the whole budget still runs alone (vLLM would preempt).
        return self.running == 0 or self.kv_used + kv_tokens <= self.settings.kv_capacity

    def _dispatch(self) -> None:
        while self._queue and self._fits(self._queue[0][0]):
            kv, fut = self._queue.popleft()
            if fut.done():  # the client went away while waiting
                continue
            self._take(kv)
            fut.set_result(None)

    def _take(self, kv_tokens: int) -> None:
        self.running += 1
        self.kv_used += kv_tokens
        self._idle.clear()

    def _release(self, kv_tokens: int) -> None:
        self.running -= 1
        self.kv_used -= kv_tokens
        if self.running == 0:
            self._idle.set()
        self._dispatch()

    @asynccontextmanager
    async def admit(self, kv_tokens: int) -> AsyncIterator[Ticket]:
        """Hold a running slot for the body of the ``async with``; wait in FIFO order for one."""
        if not self._queue and self._fits(kv_tokens):
            self._take(kv_tokens)
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._queue.append((kv_tokens, fut))
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._release(kv_tokens)  # admitted just as we were cancelled
                else:
                    fut.cancel()
                    self._queue = deque(item for item in self._queue if item[1] is not fut)
                raise
        try:
            yield Ticket(kv_tokens, self.abort_epoch, time.monotonic())
        finally:
            self._release(kv_tokens)

    def aborted(self, ticket: Ticket) -> bool:
        return ticket.epoch != self.abort_epoch

    async def until_awake(self) -> None:
        """In-flight requests paused by ``/sleep?mode=keep`` wait here between tokens."""
        if not self._executing.is_set():
            await self._executing.wait()

    # ------------------------------------------------------------------ sleep mode
    async def sleep(self, level: int, mode: SleepMode = "abort") -> None:
        async with self._transition:
            self._awake.clear()  # pause scheduling first: new requests are held from now on
            if mode == "abort":
                self.abort_epoch += 1
            elif mode == "wait":
                await self._idle.wait()  # in-flight requests run to the end
            else:
                self._executing.clear()  # keep: in-flight requests freeze until wake-up
            if self.sleep_level is None or level > self.sleep_level:
                await self.wait(self.scaled(sleep_seconds(level, self.settings.params_b)))
            self.sleep_level = level if self.sleep_level is None else max(level, self.sleep_level)
            self.asleep_tags = set(ALL_TAGS) if level > 0 else set()

    async def wake_up(self, tags: list[str] | None = None) -> None:
        async with self._transition:
            if self.sleep_level is None:
                return
            waking = ALL_TAGS if not tags else set(tags) & ALL_TAGS
            if "weights" in waking and "weights" in self.asleep_tags:
                await self.wait(self.scaled(wake_seconds(self.sleep_level, self.settings.params_b)))
            self.asleep_tags -= waking
            if not self.asleep_tags:
                self.sleep_level = None
                self._awake.set()
                self._executing.set()
                self._dispatch()
