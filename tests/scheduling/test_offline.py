"""Offline batch by expert: each expert woken once, results in assignment order, failures kept."""

from __future__ import annotations

import random

import pytest
from experts.helpers import make_config
from scheduling.fleet import FakeFleet

from orchestrator.errors import ModelNotFound
from orchestrator.experts import ExpertClient, ResiliencePolicy
from orchestrator.scheduling import ResidencyManager, run_offline_batch

pytestmark = pytest.mark.anyio
PORTS = [9301, 9302, 9303, 9304]


def _assignments(n_queries: int, seed: int = 0) -> list[tuple[str, str, list[dict], dict]]:
    rng = random.Random(seed)
    out = []
    for q in range(n_queries):
        for e in rng.sample(range(4), 2):
            out.append((f"q{q}", f"e{e}", [{"role": "user", "content": f"question {q}"}], {"max_tokens": 8}))
    return out


async def test_offline_batch_wakes_each_expert_once_within_the_budget() -> None:
    fleet = FakeFleet(PORTS, service_s=0.001, max_awake=2)
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 40})
    http = fleet.transport()
    residency = ResidencyManager(config, http_client=http)
    await residency.start()
    assignments = _assignments(60)
    results = await run_offline_batch(config, ExpertClient(config, http_client=http), assignments, progress=False, residency=residency)
    await http.aclose()
    assert sorted(results) == sorted({a[0] for a in assignments})
    for qid, completions in results.items():
        expected = [e for q, e, _, _ in assignments if q == qid]
        assert [c.expert for c in completions] == expected
        assert all(c.ok and c.text == f"answer from {PORTS[int(c.expert[1])]}" for c in completions)
    assert len(fleet.wakes) == len(set(fleet.wakes)), f"an expert was woken twice: {fleet.wakes}"
    assert fleet.violations == []


async def test_offline_batch_keeps_failed_requests_as_error_completions() -> None:
    fleet = FakeFleet(PORTS, error_rate=0.5)
    config = make_config(PORTS, max_retries=0)
    client = ExpertClient(config, http_client=fleet.transport(), policy=ResiliencePolicy(breaker_threshold=10_000))
    results = await run_offline_batch(config, client, _assignments(30), progress=False)
    await client.aclose()
    flat = [c for cs in results.values() for c in cs]
    assert len(flat) == 60
    failed = [c for c in flat if not c.ok]
    assert 0 < len(failed) < 60
    assert all(c.text == "" and "HTTP 500" in c.events[-1].detail for c in failed)


async def test_offline_batch_rejects_an_unknown_expert_before_any_call() -> None:
    fleet = FakeFleet(PORTS)
    config = make_config(PORTS)
    client = ExpertClient(config, http_client=fleet.transport())
    with pytest.raises(ModelNotFound):
        await run_offline_batch(config, client, [("q", "nobody", [], {})], progress=False)
    assert sum(fleet.calls.values()) == 0
    await client.aclose()


async def test_offline_batch_fails_only_the_prompts_of_an_expert_that_cannot_be_woken() -> None:
    fleet = FakeFleet(PORTS, broken_wake=(9304,), max_awake=2)
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 40})
    http = fleet.transport()
    residency = ResidencyManager(config, http_client=http)
    await residency.start()
    assignments = _assignments(20)
    results = await run_offline_batch(config, ExpertClient(config, http_client=http), assignments, progress=False, residency=residency)
    await http.aclose()
    flat = [c for cs in results.values() for c in cs]
    assert len(flat) == 40
    assert {c.expert for c in flat if not c.ok} == {"e3"}
    assert all("could not" in c.events[-1].detail or "wake failed" in c.events[-1].detail for c in flat if not c.ok)
