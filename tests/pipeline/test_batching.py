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
