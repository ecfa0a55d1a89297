"""Two gateway processes over the same simulated experts, sharing a real redis-server.

The budget holds two of three experts awake, so mixed traffic through both gateways forces
swaps. Before shared residency, one gateway slept an expert the other was using and its
requests hung, then failed. Here: every request answers, nothing hangs, one rate limit per key
spans both gateways, and with Redis killed mid-run requests get answers or clean 503s, never
a 500 and never a hang.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
import yaml
from redis_server import redis_server  # noqa: F401 - fixture

from services.gateway.launcher import GatewayProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

KEYS = ["k-traffic-0", "k-traffic-1", "k-traffic-2", "k-traffic-3", "k-limited"]
RPM = 40


def _config(tmp_path, sims, redis_url: str):
    experts = [
        {"name": f"e{i}", "model": f"hosted_vllm/{s.served_model_name}", "api_base": s.api_base, "roles": ["expert", "aggregator"],
         "memory_gb": 20, "timeout_s": 20, "max_retries": 1}
        for i, s in enumerate(sims)
    ]  # fmt: skip
    doc = {
        "version": 1,
        "experts": experts,
        "scheduler": {"gpu_memory_budget_gb": 40, "max_wait_ms": 2, "min_swap_batch": 1, "max_queue_wait_s": 0.5},
        "gateway": {"rate_limit_rpm": RPM, "api_keys_env": "ORCHESTRATOR_API_KEYS", "redis_url": redis_url, "redis_failure": "open"},
    }
    path = tmp_path / "experts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def _ask(client: httpx.AsyncClient, base: str, key: str, expert: str, i: int) -> int:
    r = await client.post(
        f"{base}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": expert, "messages": [{"role": "user", "content": f"question {i}"}], "max_tokens": 8},
    )
    if r.status_code == 200:
        assert r.json()["choices"][0]["message"]["content"]
    return r.status_code


async def _traffic(bases: list[str], n: int, seed: int, keys: list[str]) -> list[int]:
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> int:
            await asyncio.sleep(rng.random() * 1.5)
            return await _ask(client, bases[i % 2], keys[i % len(keys)], rng.choice(["e0", "e0", "e1", "e2"]), i)

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=90)


def test_two_gateways_share_residency_and_limits_through_redis(sim_factory, redis_server, tmp_path):  # noqa: F811
    sims = [sim_factory(f"replica-{i}", fresh=True, time_scale=0.2, params_b=1.0) for i in range(3)]
    config = _config(tmp_path, sims, redis_server.url)
    env = {"ORCHESTRATOR_API_KEYS": ",".join(KEYS)}
    with GatewayProcess(config, ready_path="/health", env=env) as a, GatewayProcess(config, ready_path="/health", env=env) as b:
        bases = [a.url, b.url]
        # Mixed traffic through both gateways: swaps happen, every request answers.
        statuses = asyncio.run(_traffic(bases, 100, seed=1, keys=KEYS[:4]))
        assert statuses == [200] * 100
        woken = sum(httpx.get(f"{s.url}/metrics").text.count('sleep_state="awake"} 1.0') for s in sims)
        assert woken <= 2  # the budget holds across both gateways

        # One rate limit per key across both gateways: RPM in all, not RPM each.
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as client:
                return [await _ask(client, bases[i % 2], "k-limited", "e0", i) for i in range(RPM + 10)]

        limited = asyncio.run(burst())
        assert RPM <= limited.count(200) <= RPM + 3 and limited.count(429) >= 7

        # Redis dies mid-run: answers or clean 503s (fail open for limits), never a 500, never a hang.
        async def with_outage() -> list[int]:
            task = asyncio.create_task(_traffic(bases, 60, seed=2, keys=KEYS[:4]))
            await asyncio.sleep(0.5)
            redis_server.stop()
            return await task

        statuses = asyncio.run(with_outage())
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) > 0
