from __future__ import annotations

import asyncio

import pytest

from orchestrator.scheduling.queues import ExpertQueue, QueuedRequest

pytestmark = pytest.mark.anyio


def _req(at: float, *, urgent: bool = False) -> QueuedRequest:
    return QueuedRequest("e0", asyncio.get_running_loop().create_future(), at, urgent)


def _busy() -> ExpertQueue:
    """A queue whose expert already has a request in flight (an idle one flushes at once)."""
    return ExpertQueue("e0", in_flight=1)


async def test_queue_is_ready_at_once_when_its_expert_is_idle() -> None:
    q = ExpertQueue("e0")
    q.push(_req(10.0))
    assert q.ready(10.0, max_batch_size=5, max_wait_s=1.0)


async def test_queue_is_ready_at_once_for_an_urgent_request() -> None:
    q = _busy()
    q.push(_req(10.0))
    assert not q.ready(10.0, max_batch_size=5, max_wait_s=1.0)
    q.push(_req(10.0, urgent=True))
    assert q.ready(10.0, max_batch_size=5, max_wait_s=1.0)


async def test_queue_is_ready_when_a_full_batch_waits() -> None:
    q = _busy()
    for _ in range(4):
        q.push(_req(10.0))
    assert not q.ready(10.0, max_batch_size=5, max_wait_s=1.0)
    q.push(_req(10.0))
    assert q.ready(10.0, max_batch_size=5, max_wait_s=1.0)


async def test_queue_is_ready_when_its_oldest_request_reaches_the_deadline() -> None:
    q = _busy()
    q.push(_req(10.0))
    assert not q.ready(10.5, max_batch_size=5, max_wait_s=1.0)
    assert q.flush_deadline(1.0) == 11.0
    assert q.ready(11.0, max_batch_size=5, max_wait_s=1.0)


async def test_queue_take_is_fifo_and_stamps_the_dispatch_time() -> None:
    q = ExpertQueue("e0")
    reqs = [_req(float(i)) for i in range(3)]
    for r in reqs:
        q.push(r)
    batch = q.take(2, now=7.0)
    assert batch == reqs[:2] and all(r.dispatched_at == 7.0 for r in batch) and len(q) == 1


async def test_queue_drops_requests_whose_caller_gave_up() -> None:
    q = ExpertQueue("e0")
    a, b = _req(0.0), _req(0.0)
    q.push(a)
    q.push(b)
    a.future.cancel()
    q.drop_cancelled()
    assert list(q.items) == [b]


async def test_queue_rate_counts_arrivals_in_the_window() -> None:
    q = ExpertQueue("e0", rate_window_s=10.0)
    for t in (0.0, 5.0, 8.0, 9.0):
        q.push(_req(t))
    assert q.rate(9.0) == pytest.approx(0.4)
    assert q.rate(16.0) == pytest.approx(0.2)
