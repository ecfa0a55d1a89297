"""ResidencyManager against a fake fleet: budget, LRU on-demand wakes, draining before sleep."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from experts.helpers import make_config
from scheduling.fleet import FakeFleet

from orchestrator.errors import ExpertUnavailable
from orchestrator.config import server_root
from orchestrator.scheduling import ResidencyManager

pytestmark = pytest.mark.anyio
PORTS = [9101, 9102, 9103, 9104]


def _manager(fleet: FakeFleet, budget_experts: int, **kw) -> ResidencyManager:
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 20 * budget_experts})
    return ResidencyManager(config, http_client=fleet.transport(), **kw)


def test_server_root_strips_the_openai_prefix() -> None:
    assert server_root("http://h:8101/v1") == "http://h:8101"
    assert server_root("http://h:8101/v1/") == "http://h:8101"
    assert server_root("http://h:8101") == "http://h:8101"


def test_residency_manages_nothing_without_a_budget() -> None:
    manager = ResidencyManager(make_config(PORTS, memory_gb=20))
    assert not manager.manages("e0") and manager.is_awake("e0") and manager.try_pin("e0")


async def test_residency_start_sleeps_experts_until_the_awake_set_fits() -> None:
    fleet = FakeFleet(PORTS)
    manager = _manager(fleet, budget_experts=2)
    await manager.start()
    assert manager.awake == ["e0", "e1"]
    assert sorted(fleet.sleeps) == [9103, 9104]
    assert manager.free_gb() == 0


async def test_residency_start_learns_who_is_already_asleep() -> None:
    fleet = FakeFleet(PORTS, asleep=(9101, 9102, 9103))
    manager = _manager(fleet, budget_experts=2)
    await manager.start()
    assert manager.awake == ["e3"] and fleet.sleeps == []


async def test_residency_use_wakes_on_demand_by_sleeping_the_least_recently_used() -> None:
    fleet = FakeFleet(PORTS, max_awake=2)
    manager = _manager(fleet, budget_experts=2)
    await manager.start()
    async with manager.use("e1"):
        pass
    async with manager.use("e2"):
        assert manager.is_awake("e2")
    assert manager.awake == ["e1", "e2"], "e0 was the least recently used"
    assert fleet.violations == []


async def test_residency_sleeps_an_expert_only_after_its_requests_finish() -> None:
    fleet = FakeFleet(PORTS, max_awake=1)
    manager = _manager(fleet, budget_experts=1)
    await manager.start()
    order: list[str] = []

    async def long_request() -> None:
        async with manager.use("e0"):
            await asyncio.sleep(0.05)
            order.append("e0 done")

    async def other() -> None:
        await asyncio.sleep(0.01)
        async with manager.use("e1"):
            order.append("e1 running")

    await asyncio.gather(long_request(), other())
    assert order == ["e0 done", "e1 running"]
    assert fleet.violations == []


async def test_residency_nested_use_in_the_same_task_does_not_deadlock() -> None:
    fleet = FakeFleet(PORTS)
    manager = _manager(fleet, budget_experts=1)
    await manager.start()
    async with manager.use("e0"):
        async with manager.use("e0"):
            assert manager.is_awake("e0")


async def test_residency_reports_a_failed_wake_as_expert_unavailable() -> None:
    fleet = FakeFleet(PORTS, broken_wake=(9102,))
    manager = _manager(fleet, budget_experts=1)
    await manager.start()
    with pytest.raises(ExpertUnavailable, match="wake failed"):
        await manager.ensure_awake("e1")
    assert not manager.is_awake("e1")


async def test_residency_start_counts_an_unreachable_expert_as_asleep() -> None:
    fleet = FakeFleet(PORTS[:3])  # the fourth port has no server behind it
    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 60})

    async def handler(request):
        if request.url.port == PORTS[3]:
            raise httpx.ConnectError("connection refused")
        return await fleet(request)

    manager = ResidencyManager(config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    await manager.start()
    assert manager.awake == ["e0", "e1", "e2"] and fleet.sleeps == []
    assert [e.kind for e in manager.events] == ["error"]


async def test_residency_retries_a_control_call_on_a_dropped_keepalive_connection() -> None:
    fleet = FakeFleet(PORTS)
    dropped = []

    async def handler(request):
        if request.url.path == "/wake_up" and not dropped:
            dropped.append(request)
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return await fleet(request)

    config = make_config(PORTS, memory_gb=20, scheduler={"gpu_memory_budget_gb": 20})
    manager = ResidencyManager(config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    await manager.start()
    await manager.ensure_awake("e2")
    assert manager.awake == ["e2"] and len(dropped) == 1
