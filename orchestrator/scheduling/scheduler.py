"""The batch-by-expert scheduler: the only way a request reaches an expert's server.

Every expert call of the gateway and the pipeline asks the scheduler for a *slot*: ``submit``
(one completion), ``stream`` (a streamed completion) or ``slot`` itself. A slot is granted when
the expert is awake (and not being drained for a swap) and below ``max_concurrency``; the
expert stays pinned awake until the slot is released, so a swap waits for it. One loop task:

1. plans at most one swap at a time (:func:`~orchestrator.scheduling.policy.plan_swap`) and
   runs it in the background through the :class:`ResidencyManager`;
2. grants queued requests per expert in micro-batches of up to ``max_batch_size``: at once when
   the expert is idle or the request is urgent (the zero-wait lane of direct pass-through),
   else once a batch is full or its oldest request has waited ``max_wait_ms``;
3. sleeps until the next flush or starvation deadline, a new request, a released slot
   or a finished swap.

A request to an idle, awake expert skips the queue entirely. Every request ends with a
:class:`Completion` or an :class:`ExpertError`: a failed wake fails that expert's queue instead
of leaving it waiting, and ``aclose`` fails what is left. The queue wait and the swaps a request
waited for join its trace events, ahead of the client's own (retries, breaker, fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.config import Config
from orchestrator.errors import ExpertError, ExpertTimeout, ExpertUnavailable
from orchestrator.experts.client import ExpertClient
from orchestrator.experts.streaming import ExpertStream
from orchestrator.experts.types import Completion, TraceEvent
from orchestrator.scheduling.policy import QueueView, SwapPlan, SwapPolicy, plan_swap
from orchestrator.scheduling.queues import ExpertQueue, QueuedRequest
from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["Grant", "Scheduler"]

_WAIT_SAMPLES = 20_000
_COORDINATED_POLL_S = 0.05
_log = logging.getLogger(__name__)


@dataclass
class Grant:
    """A held slot: how long the request queued for it, and the trace events of that wait
    (``queue``, and the ``sleep``/``wake`` swap it waited for, if any)."""

    queue_s: float = 0.0
    events: list[TraceEvent] = field(default_factory=list)


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

    async def submit(self, expert: str, messages: list[dict], params: dict | None = None, *, urgent: bool = False) -> Completion:
        """One completion from ``expert`` once the scheduler grants it a slot; ``urgent`` is the
        zero-wait lane (dispatched as soon as the expert is awake, no micro-batch wait)."""
        self.client.expert(expert)  # unknown expert -> ModelNotFound now, not later
        grant: Grant | None = None
        try:
            async with self.slot(expert, urgent=urgent) as grant:
                completion = await self.client.complete(expert, messages, params)
        except ExpertError as exc:
            self.failed += 1
            if grant is not None:  # the call itself failed (not the wait for a slot)
                exc.events[:0] = grant.events
                self._recheck_after(expert, exc)
            raise
        except Exception as exc:  # a bug must still answer the caller with an expert error, not hang it
            self.failed += 1
            raise ExpertUnavailable(expert, f"internal error: {type(exc).__name__}: {exc}") from exc
        self.completed += 1
        assert grant is not None
        completion.events[:0] = grant.events
        completion.queue_s = grant.queue_s
        return completion

    def stream(self, expert: str, messages: list[dict], params: dict | None = None, *, urgent: bool = True, parts: bool = False) -> ExpertStream:
        """A streamed completion that holds a slot from its first attempt to its last delta.

        Streams are interactive, so they take the zero-wait lane unless ``urgent=False``;
        ``parts`` as in :meth:`ExpertClient.stream_completion` (tool-call and logprob deltas).
        Nothing is queued until the stream is first iterated."""
        self.client.expert(expert)

        @contextlib.asynccontextmanager
        async def admission(out: ExpertStream) -> AsyncIterator[None]:
            granted = False
            try:
                async with self.slot(expert, urgent=urgent) as grant:
                    granted = True
                    out.events[:0] = grant.events
                    out.queue_s = grant.queue_s
                    yield
            except Exception as exc:
                self.failed += 1
                if granted and isinstance(exc, ExpertError):
                    self._recheck_after(expert, exc)
                raise
            self.completed += 1

        return self.client.stream_completion(expert, messages, params, parts=parts, admission=admission)

    @contextlib.asynccontextmanager
    async def slot(self, expert: str, *, urgent: bool = False) -> AsyncIterator[Grant]:
        """Wait for a slot on ``expert`` and hold it (awake, pinned, counted against
        ``max_concurrency``) for the body; yields the :class:`Grant` (the wait and its events)."""
        if self._closed or self._loop_task is None:
            raise ExpertUnavailable(expert, "the scheduler is not running (use `async with Scheduler(...)`)")
        q = self._queues[expert]
        arrived = self._clock()
        if not q.items and q.in_flight < self._caps[expert] and (q.in_flight == 0 or urgent) and self._grant_now(q):
            self._waits.append(0.0)
            grant = Grant()
        else:
            grant = await self._enqueue(q, arrived, urgent)
        try:
            yield grant
        finally:
            self._release(q)

    async def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or in flight (True) or ``timeout_s`` passes (False)."""
        deadline = self._clock() + timeout_s
        while any(len(q) or q.in_flight for q in self._queues.values()):
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

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
                    if not self._send(q, min(self.max_batch_size, self._caps[name] - q.in_flight), now):
                        break
                due = q.flush_deadline(self.max_wait_s) if q.items and q.in_flight < self._caps[name] else None
            else:
                due = q.items[0].enqueued_at + self.policy.max_queue_wait_s if q.items else None
                due = due if due is not None and due > now else None
            if due is not None:
                deadline = due if deadline is None else min(deadline, due)
        return deadline

    def _send(self, q: ExpertQueue, n: int, now: float) -> bool:
        """Grant the next ``n`` queued requests; False when none could be granted."""
        batch = q.take(n, now)
        self.batches += 1
        refused: list = []
        for r in batch:
            if r.future.done():  # the caller gave up after the last drop_cancelled
                continue
            if not self._grant_now(q):
                refused.append(r)  # cannot happen while dispatchable; never send to a sleeper
                continue
            self._waits.append(now - r.enqueued_at)
            r.future.set_result(None)
        q.items.extendleft(reversed(refused))
        if len(self._waits) > _WAIT_SAMPLES:
            del self._waits[: len(self._waits) - _WAIT_SAMPLES]
        return len(refused) < len(batch)

    def _grant_now(self, q: ExpertQueue) -> bool:
        """Pin the expert awake and count one more call in flight; False when it must be woken first."""
        if not self._dispatchable(q.name) or (self.residency is not None and not self.residency.try_pin(q.name)):
            return False
        q.in_flight += 1
        return True

    def _release(self, q: ExpertQueue) -> None:
        q.in_flight -= 1
        if self.residency is not None:
            self.residency.unpin(q.name)
        self._wakeup.set()

    async def _enqueue(self, q: ExpertQueue, arrived: float, urgent: bool) -> Grant:
        """Queue for a slot; returns once the slot is granted (and held)."""
        request = QueuedRequest(q.name, asyncio.get_running_loop().create_future(), arrived, urgent)
        q.push(request)
        self._wakeup.set()
        try:
            await request.future
        except asyncio.CancelledError:
            if request.future.done() and not request.future.cancelled() and request.future.exception() is None:
                self._release(q)  # granted just as the caller gave up: hand the slot back
            raise
        waited = self._clock() - arrived
        queued = TraceEvent(kind="queue", expert=q.name, detail=f"waited {waited * 1000:.1f} ms for a slot", at=arrived)
        return Grant(waited, [queued, *request.events])

    def _recheck_after(self, expert: str, exc: ExpertError) -> None:
        """[issue 14] A server that stopped answering may have been put to sleep by another replica."""
        if self.residency is not None and isinstance(exc, ExpertUnavailable | ExpertTimeout):
            self._spawn(self.residency.recheck(expert))

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
            events = await self.residency.swap_in(plan.incoming, list(plan.victims))
            self.swaps += 1
            for r in self._queues[plan.incoming].items:  # the requests this swap was for
                r.events.extend(events)
        except ExpertError as exc:
            self.failed_swaps += 1
            self._fail_queue(plan.incoming, exc)
        finally:
            self._evicting = set()
            self._wakeup.set()

    def _fail_queue(self, name: str, exc: ExpertError) -> None:
        q = self._queues[name]
        for r in q.take(len(q), self._clock()):
            if not r.future.done():
                r.future.set_exception(ExpertUnavailable(name, f"could not be woken: {exc}"))

