"""Scheduler against a fake fleet: batching, residency, starvation bound, no request lost."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator

import pytest
from experts.helpers import make_config
from scheduling.fleet import FakeFleet

from orchestrator.errors import ExpertError, ExpertUnavailable
from orchestrator.experts import Completion, ExpertClient, ResiliencePolicy
from orchestrator.scheduling import FifoDispatcher, KeepAliveDispatcher, ResidencyManager, Scheduler

pytestmark = pytest.mark.anyio
PORTS = [9201, 9202, 9203, 9204]
MSG = [{"role": "user", "content": "hi"}]


@contextlib.asynccontextmanager
async def stack(fleet: FakeFleet, *, budget_experts: int | None, **scheduler) -> AsyncIterator[Scheduler]:
    sched = {"max_wait_ms": 5, **scheduler}
    if budget_experts is not None:
        sched["gpu_memory_budget_gb"] = 20 * budget_experts
    config = make_config(PORTS, memory_gb=20, max_retries=0, scheduler=sched)
    http = fleet.transport()
    client = ExpertClient(config, http_client=http, policy=ResiliencePolicy(breaker_threshold=1000))
    residency = ResidencyManager(config, http_client=http) if budget_experts is not None else None
    async with Scheduler(config, client, residency=residency) as scheduler_:
        yield scheduler_
    await http.aclose()


async def test_scheduler_cuts_a_burst_into_batches_of_max_batch_size() -> None:
    fleet = FakeFleet(PORTS)
    async with stack(fleet, budget_experts=None, max_batch_size=4, max_wait_ms=50) as s:
        results = await asyncio.gather(*(s.submit("e0", MSG) for _ in range(10)))
        assert all(isinstance(r, Completion) and r.text == "answer from 9201" for r in results)
        assert s.stats()["batches"] == 3  # 4 + 4 on size, the last 2 on the deadline


async def test_scheduler_flushes_a_partial_batch_after_max_wait_when_the_expert_is_busy() -> None:
    fleet = FakeFleet(PORTS, service_s=0.2)
    async with stack(fleet, budget_experts=None, max_batch_size=32, max_wait_ms=40) as s:
        busy = asyncio.create_task(s.submit("e1", MSG))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        waited = asyncio.create_task(s.submit("e1", MSG))
        await asyncio.sleep(0.02)
        assert fleet.calls[9202] == 1, "the second request waits for its micro-batch"
        completion = await waited
        assert 0.039 <= completion.queue_s < 0.15 and time.monotonic() - started >= 0.039
        await busy
        assert [e.kind for e in completion.events][:1] == ["queue"]


async def test_scheduler_dispatches_to_an_idle_awake_expert_at_once() -> None:
    fleet = FakeFleet(PORTS)
    async with stack(fleet, budget_experts=None, max_batch_size=32, max_wait_ms=500) as s:
        started = time.monotonic()
        completion = await s.submit("e1", MSG)
        assert time.monotonic() - started < 0.1, "no micro-batch wait in front of an idle expert"
        assert completion.queue_s == 0.0 and s.stats()["wait_max_s"] == 0.0


async def test_scheduler_urgent_lane_skips_the_micro_batch_wait_of_a_busy_expert() -> None:
    fleet = FakeFleet(PORTS, service_s=0.3)
    async with stack(fleet, budget_experts=None, max_batch_size=32, max_wait_ms=500) as s:
        busy = asyncio.create_task(s.submit("e1", MSG))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await s.submit("e1", MSG, urgent=True)
        assert time.monotonic() - started < 0.45, "the direct lane does not wait max_wait_ms"
        await busy


async def test_scheduler_urgent_lane_still_waits_for_a_sleeping_expert_to_wake() -> None:
    fleet = FakeFleet(PORTS, wake_s=0.05, sleep_s=0.01, max_awake=1)
    async with stack(fleet, budget_experts=1, min_swap_batch=1) as s:
        await s.submit("e0", MSG)
        completion = await s.submit("e2", MSG, urgent=True)  # e2 is asleep: e0 must sleep first
        kinds = [e.kind for e in completion.events]
        assert kinds[0] == "queue" and "sleep" in kinds and "wake" in kinds
    assert fleet.violations == [] and fleet.wakes[-1] == 9203


async def test_scheduler_streams_hold_the_expert_awake_until_their_last_delta() -> None:
    fleet = FakeFleet(PORTS, sleep_s=0.01, max_awake=1)
    async with stack(fleet, budget_experts=1, min_swap_batch=1) as s:
        stream = s.stream("e0", MSG)
        text = "".join([d async for d in stream])
        assert text and stream.completion.expert == "e0"
        assert s.stats()["in_flight"] == {} and s.stats()["completed"] == 1
    assert fleet.violations == []


async def test_scheduler_keeps_in_flight_within_max_concurrency() -> None:
    fleet = FakeFleet(PORTS, service_s=0.01)
    config_cap = 3
    sched = {"max_wait_ms": 0, "max_batch_size": 8}
    config = make_config(PORTS, max_concurrency=config_cap, scheduler=sched)
    http = fleet.transport()
    peak = 0

    async with Scheduler(config, ExpertClient(config, http_client=http)) as s:
        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, fleet.running[9201])
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(s.submit("e0", MSG) for _ in range(20)))
        watcher.cancel()
    await http.aclose()
    assert peak == config_cap


async def test_scheduler_never_sends_to_a_sleeping_expert_and_keeps_the_budget() -> None:
    fleet = FakeFleet(PORTS, service_s=0.002, wake_s=0.005, sleep_s=0.005, max_awake=2)
    rng = random.Random(1)
    async with stack(fleet, budget_experts=2, min_swap_batch=2, max_queue_wait_s=0.2) as s:

        async def one(i: int) -> Completion:
            await asyncio.sleep(rng.random() * 0.3)
            return await s.submit(rng.choice(["e0", "e0", "e1", "e2", "e3"]), MSG)

        results = await asyncio.gather(*(one(i) for i in range(120)))
    assert len(results) == 120 and all(r.text.startswith("answer") for r in results)
    assert fleet.violations == []
    assert s.stats()["swaps"] >= 2, "the workload needs every expert at some point"


async def test_scheduler_wakes_the_expert_with_most_pending_work_first() -> None:
    fleet = FakeFleet(PORTS, service_s=0.05, wake_s=0.01)
    async with stack(fleet, budget_experts=1, min_swap_batch=1) as s:
        first = asyncio.create_task(s.submit("e0", MSG))
        await asyncio.sleep(0.01)  # e0 is busy; now two queues build up behind it
        few = [asyncio.create_task(s.submit("e1", MSG)) for _ in range(2)]
        many = [asyncio.create_task(s.submit("e2", MSG)) for _ in range(5)]
        await asyncio.gather(first, *few, *many)
    assert fleet.wakes[:2] == [9203, 9202]


async def test_scheduler_bounds_the_wait_of_a_rare_expert_under_a_hot_stream() -> None:
    fleet = FakeFleet(PORTS, service_s=0.005, wake_s=0.01, sleep_s=0.01)
    bound = 0.2
    async with stack(fleet, budget_experts=1, min_swap_batch=1000, max_queue_wait_s=bound) as s:
        stop = time.monotonic() + 0.8

        async def hot_stream() -> None:
            tasks = []
            while time.monotonic() < stop:
                tasks.append(asyncio.create_task(s.submit("e0", MSG)))
                await asyncio.sleep(0.003)
            await asyncio.gather(*tasks)

        async def rare() -> float:
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await s.submit("e3", MSG)
            return time.monotonic() - started

        _, rare_wait = await asyncio.gather(hot_stream(), rare())
    assert rare_wait < bound + 0.25, f"rare request waited {rare_wait:.3f} s"
    assert fleet.calls[9204] == 1 and fleet.violations == []


async def test_scheduler_fails_the_queue_of_an_expert_that_cannot_be_woken() -> None:
    fleet = FakeFleet(PORTS, broken_wake=(9202,))
    async with stack(fleet, budget_experts=1, min_swap_batch=1) as s:
        ok, bad = await asyncio.gather(s.submit("e0", MSG), s.submit("e1", MSG), return_exceptions=True)
        assert isinstance(ok, Completion)
        assert isinstance(bad, ExpertUnavailable) and "could not be woken" in str(bad)
        assert await s.submit("e0", MSG), "the scheduler keeps serving other experts"


async def test_scheduler_answers_every_request_when_experts_fail() -> None:
    fleet = FakeFleet(PORTS, service_s=0.001, error_rate=0.3, max_awake=2)
    async with stack(fleet, budget_experts=2, min_swap_batch=1, max_queue_wait_s=0.1) as s:
        outcomes = await asyncio.gather(*(s.submit(f"e{i % 4}", MSG) for i in range(200)), return_exceptions=True)
    answered = sum(isinstance(o, Completion) for o in outcomes)
    failed = sum(isinstance(o, ExpertError) for o in outcomes)
    assert answered + failed == 200 and 0 < failed < 200
    assert s.stats()["completed"] == answered and s.stats()["failed"] == failed


async def test_scheduler_shutdown_fails_the_requests_still_queued() -> None:
    fleet = FakeFleet(PORTS, wake_s=5.0)
    async with stack(fleet, budget_experts=1, min_swap_batch=1) as s:
        waiting = asyncio.create_task(s.submit("e2", MSG))
        await asyncio.sleep(0.05)
    with pytest.raises(ExpertUnavailable, match="shut down"):
        await waiting


async def test_scheduler_submit_needs_a_started_scheduler() -> None:
    config = make_config(PORTS)
    s = Scheduler(config, ExpertClient(config))
    with pytest.raises(ExpertUnavailable, match="not running"):
        await s.submit("e0", MSG)


async def test_scheduler_swaps_far_less_than_fifo_on_a_skewed_workload() -> None:
    weights = [0.55, 0.25, 0.1, 0.1]
    rng = random.Random(3)
    plan = [(rng.random() * 0.4, rng.choices(range(4), weights)[0]) for _ in range(240)]

    async def drive(submit) -> None:
        async def one(at: float, e: int) -> None:
            await asyncio.sleep(at)
            await submit(f"e{e}", MSG)

        await asyncio.gather(*(one(at, e) for at, e in plan))

    fleet_s = FakeFleet(PORTS, service_s=0.002, wake_s=0.004, sleep_s=0.004, max_awake=2)
    async with stack(fleet_s, budget_experts=2, min_swap_batch=4, max_queue_wait_s=0.15) as s:
        await drive(s.submit)
        sched_swaps = s.stats()["swaps"]

    fleet_f = FakeFleet(PORTS, service_s=0.002, wake_s=0.004, sleep_s=0.004, max_awake=2)
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 40})
    http = fleet_f.transport()
    residency = ResidencyManager(config, http_client=http)
    await residency.start()
    fifo = FifoDispatcher(ExpertClient(config, http_client=http), residency)
    await drive(fifo.submit)
    await http.aclose()
    assert fleet_s.violations == [] and fleet_f.violations == []
    assert sched_swaps * 2 <= fifo.stats()["swaps"], (sched_swaps, fifo.stats()["swaps"])


async def test_keep_alive_baseline_evicts_only_experts_idle_past_their_keep_alive() -> None:
    fleet = FakeFleet(PORTS, service_s=0.02, wake_s=0.005, sleep_s=0.005, max_awake=2)
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 40})
    http = fleet.transport()
    residency = ResidencyManager(config, http_client=http)
    await residency.start()  # e0, e1 awake
    slept_at_start = len(fleet.sleeps)
    cache = KeepAliveDispatcher(ExpertClient(config, http_client=http), residency, keep_alive_s=0.15)
    await cache.submit("e1", MSG)
    await cache.submit("e0", MSG)
    started = time.monotonic()
    await cache.submit("e2", MSG)  # e1 and e0 were just used: waits for e1's keep-alive to run out
    waited = time.monotonic() - started
    results = await asyncio.gather(*(cache.submit(f"e{i % 4}", MSG) for i in range(12)))
    await http.aclose()
    assert len(results) == 12 and fleet.violations == []
    assert waited >= 0.1, f"evicted an expert {waited:.3f} s after its last use"
    assert fleet.sleeps[slept_at_start] == 9202, "the least recently used idle expert goes first"
