"""Scheduler, residency and offline batch against real simulator processes on loopback.

Ground truth for "never routed to a sleeping expert" comes from the servers themselves: an
httpx request hook asks the target simulator ``/is_sleeping`` right before every chat request
leaves (after the residency pin is taken, so the answer must be "awake").
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator.config import Config
from orchestrator.errors import ExpertError
from orchestrator.experts import Completion, ExpertClient, ResiliencePolicy
from orchestrator.config import server_root
from orchestrator.scheduling import ResidencyManager, Scheduler, run_offline_batch

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
MSG = [{"role": "user", "content": "Name a prime number."}]
SCALE = 0.05  # sleep ~68 ms, wake ~68 ms for a 7.6B model


@pytest.fixture(scope="module")
def fleet(sim_factory) -> list:
    """Four simulators of our own: the tests put them to sleep and wake them."""
    return [sim_factory(f"sched-{i}", fresh=True, time_scale=SCALE) for i in range(4)]


def config_for(sims, *, budget_experts: int, **scheduler) -> Config:
    experts = [
        {
            "name": f"e{i}",
            "model": f"hosted_vllm/{s.served_model_name}",
            "api_base": s.api_base,
            "roles": ["expert", "aggregator"],
            "memory_gb": 20,
            "timeout_s": 5,
            "max_retries": 1,
        }
        for i, s in enumerate(sims)
    ]
    sched = {"gpu_memory_budget_gb": 20 * budget_experts, "max_wait_ms": 5, "min_swap_batch": 2, "max_queue_wait_s": 0.5, **scheduler}
    return Config.model_validate({"experts": experts, "scheduler": sched})


class SleepAudit:
    """Asks the destination server whether it is asleep as each chat request leaves."""

    def __init__(self) -> None:
        self.checked = 0
        self.violations: list[str] = []
        self._probe = httpx.AsyncClient(timeout=5)

    async def __call__(self, request: httpx.Request) -> None:
        if not request.url.path.endswith("/chat/completions"):
            return
        root = server_root(str(request.url).rsplit("/chat/completions", 1)[0])
        asleep = (await self._probe.get(f"{root}/is_sleeping")).json()["is_sleeping"]
        self.checked += 1
        if asleep:
            self.violations.append(f"chat request sent to sleeping {root}")

    async def aclose(self) -> None:
        await self._probe.aclose()


@contextlib.asynccontextmanager
async def running(config: Config, audit: SleepAudit) -> AsyncIterator[Scheduler]:
    http = httpx.AsyncClient(event_hooks={"request": [audit]}, timeout=None)
    client = ExpertClient(config, http_client=http, policy=ResiliencePolicy(breaker_threshold=1000, backoff_max_s=0.05))
    residency = ResidencyManager(config)
    try:
        async with Scheduler(config, client, residency=residency) as scheduler:
            yield scheduler
    finally:
        await residency.aclose()
        await client.aclose()
        await audit.aclose()


async def test_scheduler_never_routes_to_a_sleeping_simulator(fleet) -> None:
    audit = SleepAudit()
    rng = random.Random(0)
    config = config_for(fleet, budget_experts=2)
    async with running(config, audit) as s:

        async def one() -> Completion:
            await asyncio.sleep(rng.random() * 1.0)
            return await s.submit(rng.choice(["e0", "e0", "e0", "e1", "e2", "e3"]), MSG, {"max_tokens": 8})

        results = await asyncio.gather(*(one() for _ in range(80)))
        stats = s.stats()
    assert all(r.text for r in results)
    assert audit.checked == 80 and audit.violations == []
    assert stats["swaps"] >= 2 and len(stats["awake"]) <= 2


async def test_scheduler_bounds_the_wait_of_a_rare_expert(fleet) -> None:
    audit = SleepAudit()
    config = config_for(fleet, budget_experts=1, min_swap_batch=10_000, max_queue_wait_s=0.4)
    async with running(config, audit) as s:
        stop = time.monotonic() + 1.5

        async def hot() -> None:
            tasks = []
            while time.monotonic() < stop:
                tasks.append(asyncio.create_task(s.submit("e0", MSG, {"max_tokens": 4})))
                await asyncio.sleep(0.01)
            await asyncio.gather(*tasks)

        async def rare() -> float:
            await asyncio.sleep(0.2)
            started = time.monotonic()
            await s.submit("e3", MSG, {"max_tokens": 4})
            return time.monotonic() - started

        _, waited = await asyncio.gather(hot(), rare())
    assert waited < 0.4 + 0.6, f"the rare request waited {waited:.2f} s"
    assert audit.violations == []


async def test_scheduler_answers_or_fails_every_request_under_injected_faults(sim_factory) -> None:
    faulty = [
        sim_factory(f"sched-faulty-{i}", fresh=True, time_scale=SCALE, error_rate=0.2, drop_rate=0.1, stall_rate=0.05, stall_s=1.5, seed=i)
        for i in range(3)
    ]
    audit = SleepAudit()
    config = config_for(faulty, budget_experts=2)
    config = config.model_copy(update={"experts": [e.model_copy(update={"timeout_s": 0.5}) for e in config.experts]})
    async with running(config, audit) as s:
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(s.submit(f"e{i % 3}", MSG, {"max_tokens": 8}) for i in range(90)), return_exceptions=True), 60
        )
    answered = [o for o in outcomes if isinstance(o, Completion)]
    failed = [o for o in outcomes if isinstance(o, ExpertError)]
    assert len(answered) + len(failed) == 90, [o for o in outcomes if not isinstance(o, (Completion, ExpertError))]
    assert len(answered) > 45 and audit.violations == []


async def test_offline_batch_wakes_each_simulator_at_most_once(fleet) -> None:
    config = config_for(fleet, budget_experts=2)
    rng = random.Random(1)
    assignments = [(f"q{q}", f"e{e}", MSG, {"max_tokens": 4}) for q in range(40) for e in rng.sample(range(4), 2)]
    residency = ResidencyManager(config)
    await residency.start()
    async with ExpertClient(config) as client:
        results = await run_offline_batch(config, client, assignments, progress=False, residency=residency)
    await residency.aclose()
    assert sum(len(v) for v in results.values()) == 80 and all(c.ok for v in results.values() for c in v)
    assert residency.wakes <= 4, f"{residency.wakes} wakes for 4 experts: one was woken twice"
