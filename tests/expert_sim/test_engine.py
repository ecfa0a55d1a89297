"""The engine: admission limits, KV-cache budget, latency model and sleep mode (in-process)."""

from __future__ import annotations

import asyncio

import pytest

from services.expert_sim.engine import Engine, sleep_seconds, wake_seconds
from services.expert_sim.settings import SimSettings

pytestmark = pytest.mark.anyio


async def _hold(engine: Engine, kv: int, release: asyncio.Event, admitted: list[int], tag: int) -> None:
    async with engine.admit(kv):
        admitted.append(tag)
        await release.wait()


async def test_admit_runs_at_most_max_num_seqs_and_queues_the_rest_in_order() -> None:
    engine = Engine(SimSettings(max_num_seqs=2, time_scale=0))
    release, admitted = asyncio.Event(), []
    tasks = [asyncio.create_task(_hold(engine, 10, release, admitted, i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert (engine.running, engine.waiting, admitted) == (2, 3, [0, 1])
    release.set()
    await asyncio.gather(*tasks)
    assert admitted == [0, 1, 2, 3, 4]
    assert (engine.running, engine.waiting, engine.kv_used) == (0, 0, 0)


async def test_admit_waits_for_kv_cache_room() -> None:
    engine = Engine(SimSettings(max_model_len=100, kv_cache_tokens=150, time_scale=0))
    release, admitted = asyncio.Event(), []
    tasks = [asyncio.create_task(_hold(engine, 100, release, admitted, i)) for i in range(2)]
    await asyncio.sleep(0.01)
    assert (engine.running, engine.waiting) == (1, 1)
    assert engine.kv_usage == pytest.approx(100 / 150)
    release.set()
    await asyncio.gather(*tasks)


async def test_cancelled_waiter_leaves_the_queue() -> None:
    engine = Engine(SimSettings(max_num_seqs=1, time_scale=0))
    release, admitted = asyncio.Event(), []
    holder = asyncio.create_task(_hold(engine, 1, release, admitted, 0))
    waiter = asyncio.create_task(_hold(engine, 1, release, admitted, 1))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.sleep(0.01)
    assert engine.waiting == 0
    release.set()
    await holder
    assert engine.running == 0


def test_latency_grows_with_prompt_batch_and_model_size() -> None:
    small, big = Engine(SimSettings(params_b=1.0)), Engine(SimSettings(params_b=70.0))
    assert small.prefill_seconds(4000) > small.prefill_seconds(100)
    idle = small.inter_token_seconds()
    small.running = 100
    assert small.inter_token_seconds() > idle
    assert big.prefill_seconds(1000) > small.prefill_seconds(1000)
    assert Engine(SimSettings(time_scale=0)).prefill_seconds(10_000) == 0


def test_wake_cost_follows_the_measured_points_and_scales_with_size() -> None:
    # vLLM blog (A100, 0.11): Qwen3-0.6B L1 0.26 s / L2 0.85 s; 4.2B L1 0.82 s / L2 2.58 s.
    assert wake_seconds(1, 0.6) == pytest.approx(0.26, abs=0.01)
    assert wake_seconds(1, 4.2) == pytest.approx(0.82, abs=0.01)
    assert wake_seconds(2, 0.6) == pytest.approx(0.85, abs=0.01)
    assert wake_seconds(2, 4.2) == pytest.approx(2.58, abs=0.01)
    assert 3.0 <= wake_seconds(1, 30) <= 6.0  # "~3-6 s" for large models
    assert wake_seconds(0, 70) == 0 and sleep_seconds(2, 70) < sleep_seconds(1, 70)


async def test_sleep_holds_new_requests_until_full_wake_up() -> None:
    engine = Engine(SimSettings(time_scale=0))
    await engine.sleep(1)
    assert engine.is_sleeping and engine.sleep_state == "weights_offloaded"
    release, admitted = asyncio.Event(), []
    release.set()
    task = asyncio.create_task(_hold(engine, 1, release, admitted, 0))
    await asyncio.sleep(0.01)
    assert (admitted, engine.waiting) == ([], 1)
    await engine.wake_up(["kv_cache"])  # a partial wake keeps it asleep
    await asyncio.sleep(0.01)
    assert admitted == [] and engine.is_sleeping
    await engine.wake_up(["weights"])
    await task
    assert admitted == [0] and not engine.is_sleeping and engine.sleep_state == "awake"


async def test_sleep_in_abort_mode_aborts_running_requests() -> None:
    engine = Engine(SimSettings(time_scale=0))
    async with engine.admit(1) as ticket:
        await engine.sleep(2, "abort")
        assert engine.aborted(ticket)
    assert engine.sleep_state == "discard_all"


async def _decode(engine: Engine, steps: int, gap: float) -> int:
    async with engine.admit(1) as ticket:
        for done in range(steps):
            if engine.aborted(ticket):
                return done
            await engine.until_awake()
            await asyncio.sleep(gap)
        return steps


async def test_sleep_in_wait_mode_lets_running_requests_finish_first() -> None:
    engine = Engine(SimSettings(time_scale=0))
    running = asyncio.create_task(_decode(engine, steps=5, gap=0.01))
    await asyncio.sleep(0.015)
    await engine.sleep(1, "wait")
    assert running.done() and running.result() == 5
    assert engine.is_sleeping


async def test_sleep_in_keep_mode_freezes_running_requests_until_wake_up() -> None:
    engine = Engine(SimSettings(time_scale=0))
    running = asyncio.create_task(_decode(engine, steps=5, gap=0.01))
    await asyncio.sleep(0.015)
    await engine.sleep(1, "keep")
    await asyncio.sleep(0.1)
    assert not running.done()
    await engine.wake_up()
    assert await running == 5


async def test_wake_up_takes_the_scaled_wake_time() -> None:
    engine = Engine(SimSettings(params_b=7.6, time_scale=0.1))
    await engine.sleep(2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await engine.wake_up()
    assert loop.time() - start == pytest.approx(0.1 * wake_seconds(2, 7.6), rel=0.3)
