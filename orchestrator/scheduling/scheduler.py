"""The batch-by-expert scheduler: per-expert queues, micro-batches, residency-aware swaps.

``submit`` queues a request under its expert and awaits the answer. One loop task:

1. plans at most one swap at a time (:func:`~orchestrator.scheduling.policy.plan_swap`) and
   runs it in the background through the :class:`ResidencyManager`;
2. flushes every dispatchable (awake, not draining) expert's queue in micro-batches of up to
   ``max_batch_size`` once a batch is full or its oldest request has waited ``max_wait_ms``,
   keeping at most ``max_concurrency`` requests in flight per expert;
3. sleeps until the next flush or starvation deadline, a new request, a finished request
   or a finished swap.

Each dispatched request is pinned awake for its lifetime, so a swap waits for it to finish.
Every submitted request ends with a :class:`Completion` or an :class:`ExpertError`: a failed
wake fails that expert's queue instead of leaving it waiting, and ``aclose`` fails what is left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.config import Config
from orchestrator.errors import ExpertError, ExpertTimeout, ExpertUnavailable
from orchestrator.experts.client import ExpertClient
from orchestrator.experts.types import Completion
from orchestrator.scheduling.policy import QueueView, SwapPlan, SwapPolicy, plan_swap
from orchestrator.scheduling.queues import ExpertQueue, QueuedRequest
from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["Scheduler"]

_WAIT_SAMPLES = 20_000
_COORDINATED_POLL_S = 0.05
_log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        config: Config,
        client: ExpertClient,
        *,
        residency: ResidencyManager | None = None,
        policy: SwapPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        s = config.scheduler
        self.config = config
        self.client = client
        self.residency = residency
        self.policy = policy or SwapPolicy(max_queue_wait_s=s.max_queue_wait_s, min_swap_batch=s.min_swap_batch)
        self.max_batch_size = s.max_batch_size
        self.max_wait_s = s.max_wait_ms / 1000.0
        self._clock = clock
        self._queues = {e.name: ExpertQueue(e.name, rate_window_s=s.max_queue_wait_s) for e in config.experts}
        self._caps = {e.name: e.max_concurrency for e in config.experts}
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._swap_task: asyncio.Task | None = None
        self._evicting: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self._waits: list[float] = []
        self.batches = 0
        self.swaps = 0
        self.failed_swaps = 0
        self.completed = 0
        self.failed = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.residency is not None:
            await self.residency.start()
        self._loop_task = asyncio.create_task(self._run(), name="scheduler-loop")

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._loop_task, self._swap_task):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in (self._loop_task, self._swap_task) if t is not None), return_exceptions=True)
        for q in self._queues.values():
            for r in q.take(len(q), self._clock()):
                if not r.future.done():
                    r.future.set_exception(ExpertUnavailable(r.expert, "the scheduler shut down before this request ran"))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ API

    async def submit(self, expert: str, messages: list[dict], params: dict | None = None) -> Completion:
        """Queue one request for ``expert`` and wait for its completion (or its error)."""
        self.client.expert(expert)  # unknown expert -> ModelNotFound now, not later
        if self._closed or self._loop_task is None:
            raise ExpertUnavailable(expert, "the scheduler is not running (use `async with Scheduler(...)`)")
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._queues[expert].push(QueuedRequest(expert, messages, dict(params or {}), future, self._clock()))
        self._wakeup.set()
        return await future

    def stats(self) -> dict[str, Any]:
        waits = np.asarray(self._waits) if self._waits else np.zeros(1)
        return {
            "queue_depths": {n: len(q) for n, q in self._queues.items() if len(q)},
            "in_flight": {n: q.in_flight for n, q in self._queues.items() if q.in_flight},
            "wait_p50_s": float(np.percentile(waits, 50)),
            "wait_p99_s": float(np.percentile(waits, 99)),
            "wait_max_s": float(waits.max()),
            "batches": self.batches,
            "swaps": self.swaps,
            "failed_swaps": self.failed_swaps,
            "completed": self.completed,
            "failed": self.failed,
            "awake": self.residency.awake if self.residency else sorted(self._queues),
            "residency": self.residency.stats() if self.residency else None,
        }

    # ------------------------------------------------------------------ loop

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            now = self._clock()
            try:
                self._plan_swap(now)
                deadline = self._dispatch(now)
            except Exception:  # a bug here must not strand every queued request
                _log.exception("scheduler iteration failed; retrying shortly")
                deadline = now + 0.1
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            if self.residency is not None and self.residency.coordinated:  # [issue 14] other replicas'
                timeout = min(timeout if timeout is not None else _COORDINATED_POLL_S, _COORDINATED_POLL_S)  # swaps raise no local event
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    def _dispatchable(self, name: str) -> bool:
        return name not in self._evicting and (self.residency is None or self.residency.dispatchable(name))

    def _dispatch(self, now: float) -> float | None:
        """Flush ready batches; return the next time something becomes due (flush or starvation)."""
        deadline: float | None = None
        for name, q in self._queues.items():
            q.drop_cancelled()
            if not q.items:
                continue
            if self._dispatchable(name):
                while q.in_flight < self._caps[name] and q.ready(now, self.max_batch_size, self.max_wait_s):
                    self._send(q, min(self.max_batch_size, self._caps[name] - q.in_flight), now)
                due = q.flush_deadline(self.max_wait_s) if q.items and q.in_flight < self._caps[name] else None
            else:
                due = q.items[0].enqueued_at + self.policy.max_queue_wait_s if q.items else None
                due = due if due is not None and due > now else None
            if due is not None:
                deadline = due if deadline is None else min(deadline, due)
        return deadline

    def _send(self, q: ExpertQueue, n: int, now: float) -> None:
        batch = q.take(n, now)
        self.batches += 1
        for r in batch:
            if self.residency is not None and not self.residency.try_pin(r.expert):
                q.items.appendleft(r)  # cannot happen while dispatchable; never send to a sleeper
                continue
            self._waits.append(now - r.enqueued_at)
            q.in_flight += 1
            ctx = self.residency.held_context(r.expert) if self.residency is not None else None
            task = asyncio.create_task(self._run_one(q, r), context=ctx)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if len(self._waits) > _WAIT_SAMPLES:
            del self._waits[: len(self._waits) - _WAIT_SAMPLES]

    async def _run_one(self, q: ExpertQueue, r: QueuedRequest) -> None:
        try:
            result = await self.client.complete(r.expert, r.messages, r.params)
        except ExpertError as exc:
            self.failed += 1
            if self.residency is not None and isinstance(exc, ExpertUnavailable | ExpertTimeout):
                self._spawn(self.residency.recheck(r.expert))  # [issue 14] asleep under another replica?
            if not r.future.done():
                r.future.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer the caller, not hang it
            self.failed += 1
            if not r.future.done():
                r.future.set_exception(ExpertUnavailable(r.expert, f"internal error: {type(exc).__name__}: {exc}"))
        else:
            self.completed += 1
            if not r.future.done():
                r.future.set_result(result)
        finally:
            q.in_flight -= 1
            if self.residency is not None:
                self.residency.unpin(r.expert)
            self._wakeup.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ swaps

    def _views(self, now: float) -> list[QueueView]:
        assert self.residency is not None
        return [
            QueueView(
                name=name,
                pending=len(q),
                oldest_wait_s=q.oldest_wait(now),
                in_flight=q.in_flight,
                rate=q.rate(now),
                awake=self.residency.is_awake(name),
                memory_gb=self.residency.memory_gb(name),
                last_used=self.residency.last_used(name),
            )
            for name, q in self._queues.items()
            if self.residency.manages(name)
        ]

    def _plan_swap(self, now: float) -> None:
        if self.residency is None or (self._swap_task is not None and not self._swap_task.done()):
            return
        plan = plan_swap(self._views(now), self.residency.free_gb(), self._policy_now())
        if plan is not None:
            self._evicting = set(plan.victims)
            self._swap_task = asyncio.create_task(self._swap(plan), name=f"swap-{plan.incoming}")

    def _policy_now(self) -> SwapPolicy:
        """The policy with the swap cost measured so far (sleep + wake), once there is a measurement."""
        r = self.residency
        if r is None or r.wakes + r.sleeps == 0:
            return self.policy
        per_op = r.swap_seconds / (r.wakes + r.sleeps)
        return SwapPolicy(self.policy.max_queue_wait_s, self.policy.min_swap_batch, self.policy.demand_ratio, 2 * per_op)

    async def _swap(self, plan: SwapPlan) -> None:
        assert self.residency is not None
        try:
            await self.residency.swap_in(plan.incoming, list(plan.victims))
            self.swaps += 1
        except ExpertError as exc:
            self.failed_swaps += 1
            self._fail_queue(plan.incoming, exc)
        finally:
            self._evicting = set()
            self._wakeup.set()

    def _fail_queue(self, name: str, exc: ExpertError) -> None:
        q = self._queues[name]
        for r in q.take(len(q), self._clock()):
            self.failed += 1
            if not r.future.done():
                r.future.set_exception(ExpertUnavailable(name, f"could not be woken: {exc}"))
