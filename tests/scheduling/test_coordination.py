"""Two gateway replicas over the same experts with a budget that forces swaps: with residency
coordinated through a real redis-server no request reaches a sleeping expert, none is lost and
the budget holds across replicas; without it the replicas fight (the bug this fixes)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from experts.helpers import make_config
from redis_server import redis_server  # noqa: F401 - fixture
from scheduling.fleet import FakeFleet

from orchestrator.errors import ExpertError, ExpertUnavailable
from orchestrator.experts import ExpertClient, ResiliencePolicy
from orchestrator.scheduling import ResidencyManager, Scheduler
from orchestrator.scheduling.coordination import RedisCoordinator

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
PORTS = [9301, 9302, 9303, 9304]
MSG = [{"role": "user", "content": "hi"}]


@contextlib.asynccontextmanager
async def replica(fleet: FakeFleet, redis_url: str | None, **coordinator) -> AsyncIterator[Scheduler]:
    config = make_config(PORTS, memory_gb=20, max_retries=0, scheduler={"max_wait_ms": 5, "gpu_memory_budget_gb": 40, "min_swap_batch": 2, "max_queue_wait_s": 0.2})
    http = fleet.transport()
    client = ExpertClient(config, http_client=http, policy=ResiliencePolicy(breaker_threshold=1000))
    coord = RedisCoordinator(redis_url, lease_s=1.0, poll_s=0.02, lock_timeout_s=5.0, **coordinator) if redis_url else None
    residency = ResidencyManager(config, http_client=http, coordinator=coord)
    async with Scheduler(config, client, residency=residency) as s:
        yield s
    await residency.aclose()
    await http.aclose()


async def _mixed_traffic(replicas: list[Scheduler], n: int, seed: int) -> list:
    rng = random.Random(seed)

    async def one(i: int):
        await asyncio.sleep(rng.random() * 0.6)
        return await replicas[i % len(replicas)].submit(rng.choice(["e0", "e0", "e1", "e2", "e3"]), MSG)

    return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True), timeout=60)


async def test_two_replicas_share_residency_through_redis(redis_server):  # noqa: F811
    fleet = FakeFleet(PORTS, service_s=0.003, wake_s=0.005, sleep_s=0.005, max_awake=2, asleep=(9303, 9304))
    async with replica(fleet, redis_server.url) as a, replica(fleet, redis_server.url) as b:
        results = await _mixed_traffic([a, b], 200, seed=1)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert all(r.text.startswith("answer") for r in results)
    assert fleet.violations == []  # never sent to a sleeper, never slept under a request, budget held
    assert len(fleet.wakes) >= 2, "the workload needs swaps"


async def test_without_coordination_two_replicas_fight():
    fleet = FakeFleet(PORTS, service_s=0.003, wake_s=0.005, sleep_s=0.005, max_awake=2, asleep=(9303, 9304))
    async with replica(fleet, None) as a, replica(fleet, None) as b:
        await _mixed_traffic([a, b], 200, seed=1)
    assert fleet.violations, "two uncoordinated replicas should break the rules (the reported bug)"


async def test_redis_dying_mid_run_fails_requests_cleanly_and_never_hangs(redis_server):  # noqa: F811
    fleet = FakeFleet(PORTS, service_s=0.003, wake_s=0.005, sleep_s=0.005, max_awake=2, asleep=(9303, 9304))
    async with replica(fleet, redis_server.url, failure="closed") as a, replica(fleet, redis_server.url, failure="closed") as b:
        traffic = asyncio.create_task(_mixed_traffic([a, b], 200, seed=2))
        for _ in range(500):  # kill Redis once the run is under way
            if a.completed + b.completed >= 20:
                break
            await asyncio.sleep(0.01)
        redis_server.stop()
        results = await traffic
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ExpertError) for e in errors), {type(e).__name__ for e in errors}
    assert all(isinstance(e, ExpertUnavailable) for e in errors)
    assert len(results) - len(errors) > 0  # what ran before the outage answered
    assert [v for v in fleet.violations if "sleeping port" in v] == []
