import asyncio
import threading

import pytest

from orchestrator.errors import RoutingError
from orchestrator.pipeline.batching import RouteBatcher


class SlowRouter:
    def __init__(self):
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def route(self, prompts, **kwargs):
        self.batches.append(list(prompts))
        self.release.wait(5)
        if "bad" in prompts:
            raise RoutingError("cannot route")
        return [f"{p}:{kwargs.get('k')}" for p in prompts]


@pytest.mark.anyio
async def test_route_batcher_groups_requests_arriving_while_a_batch_runs():
    router = SlowRouter()
    batcher = RouteBatcher(router.route)
    first = asyncio.create_task(batcher("a", k=1))
    await asyncio.sleep(0.05)  # "a" is being routed; the next three queue up behind it
    rest = [asyncio.create_task(batcher(p, k=1)) for p in ("b", "c", "d")]
    await asyncio.sleep(0.05)
    router.release.set()
    assert await first == "a:1"
    assert [await t for t in rest] == ["b:1", "c:1", "d:1"]
    assert router.batches == [["a"], ["b", "c", "d"]]


@pytest.mark.anyio
async def test_route_batcher_keeps_different_options_in_separate_batches():
    router = SlowRouter()
    router.release.set()
    batcher = RouteBatcher(router.route)
    results = await asyncio.gather(batcher("a", k=1), batcher("b", k=2), batcher("c", k=1))
    assert results == ["a:1", "b:2", "c:1"]
    assert sorted(map(sorted, router.batches)) == [["a", "c"], ["b"]]


@pytest.mark.anyio
async def test_route_batcher_gives_every_waiter_the_batch_error():
    router = SlowRouter()
    router.release.set()
    batcher = RouteBatcher(router.route)
    results = await asyncio.gather(batcher("bad"), batcher("ok"), return_exceptions=True)
    assert all(isinstance(r, RoutingError) for r in results)


class TimedRouter:
    """Costs ``per_query_s`` of wall time per prompt and records which thread routed each batch."""

    def __init__(self, per_query_s: float):
        self.per_query_s = per_query_s
        self.threads: list[str] = []

    def route(self, prompts, **kwargs):
        self.threads.append(threading.current_thread().name)
        threading.Event().wait(self.per_query_s * len(prompts))
        return list(prompts)


async def _route_in_batches(batcher, batches: int, size: int) -> None:
    for b in range(batches):
        await asyncio.gather(*(batcher(f"q{b}-{i}") for i in range(size)))


@pytest.mark.anyio
async def test_a_router_cheap_per_query_runs_inline_even_when_its_batches_are_long():
    # 8 x 0.5 ms = 4 ms per batch, over the 2 ms mark; per query it is 0.5 ms: no thread hop.
    router = TimedRouter(0.0005)
    await _route_in_batches(RouteBatcher(router.route, inline_below_s=0.002), batches=4, size=8)
    assert router.threads[0] != threading.main_thread().name  # not measured yet: off the loop
    assert all(t == threading.main_thread().name for t in router.threads[1:])


@pytest.mark.anyio
async def test_a_router_slow_per_query_stays_off_the_event_loop():
    router = TimedRouter(0.004)
    await _route_in_batches(RouteBatcher(router.route, inline_below_s=0.002), batches=3, size=2)
    assert all(t != threading.main_thread().name for t in router.threads)
