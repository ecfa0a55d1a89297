"""Which experts are awake: a GPU-memory budget enforced with vLLM's sleep mode.

SN40L's view of memory tiers: a few models live in HBM (here: awake in vLLM), the rest wait in
DDR (here: asleep at level 1, weights offloaded to CPU RAM) and are swapped in on demand.
Each managed expert occupies ``memory_gb`` while awake; the awake set never exceeds
``scheduler.gpu_memory_budget_gb``. An expert is *managed* when a budget is set, it has a
``memory_gb``, an ``api_base`` and sleep mode enabled; every other expert counts as always awake.

Sleeping is ``POST {root}/sleep?level=N`` and waking ``POST {root}/wake_up``, where root is the
expert's :attr:`~orchestrator.config.ExpertConfig.server_root`. vLLM hangs (0.17+) or crashes
(<=0.15) on requests sent while asleep, so nothing may reach a sleeping server: the scheduler
pins an expert (``try_pin``) for the duration of each request it dispatches, the offline batch
holds one (``use``) for a whole group, and an expert is put to sleep only once its pins drain.
Swaps run one at a time (one GPU, one PCIe link); each returns the trace events it produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestrator.config import Config, ExpertConfig
from orchestrator.errors import ExpertUnavailable
from orchestrator.experts.types import TraceEvent
from orchestrator.scheduling.coordination import InProcessCoordinator, ResidencyCoordinator

__all__ = ["ResidencyManager"]

_CONTROL_ATTEMPTS = 3


@dataclass
class _Slot:
    name: str
    memory_gb: float
    root: str
    awake: bool = True
    draining: bool = False
    pins: int = 0
    last_used: float = 0.0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


def _managed(expert: ExpertConfig, budget: float | None) -> bool:
    return budget is not None and expert.memory_gb is not None and expert.api_base is not None and expert.vllm.enable_sleep_mode


class ResidencyManager:
    """Keeps the awake set within the budget; wakes on demand (LRU) or on the scheduler's plan."""

    def __init__(
        self,
        config: Config,
        *,
        budget_gb: float | None = None,
        sleep_level: int | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        request_timeout_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        coordinator: ResidencyCoordinator | None = None,
    ):
        # [issue 14] Several gateway replicas share residency through the coordinator (Redis):
        # dispatch only to experts it confirms awake, swap only under its lock.
        self._coord: ResidencyCoordinator = coordinator or InProcessCoordinator()
        self.budget_gb = budget_gb if budget_gb is not None else config.scheduler.gpu_memory_budget_gb
        self.sleep_level = sleep_level if sleep_level is not None else config.scheduler.sleep_level
        self._http = http_client or httpx.AsyncClient(timeout=request_timeout_s, transport=http_transport)
        self._owns_http = http_client is None
        self._clock = clock
        self._slots = {
            e.name: _Slot(e.name, float(e.memory_gb or 0.0), e.server_root or "")
            for e in config.experts
            if _managed(e, self.budget_gb)
        }
        self._lock = asyncio.Lock()
        self.wakes = 0
        self.sleeps = 0
        self.swap_seconds = 0.0
        self.events: deque[TraceEvent] = deque(maxlen=1000)

    # ------------------------------------------------------------------ state

    def manages(self, expert: str) -> bool:
        return expert in self._slots

    def is_awake(self, expert: str) -> bool:
        slot = self._slots.get(expert)
        return slot is None or (slot.awake and self._coord.confirmed(expert))  # [issue 14] unconfirmed -> plan a swap_in

    def dispatchable(self, expert: str) -> bool:
        """Awake and not being drained for a swap: new requests may start now."""
        slot = self._slots.get(expert)
        return slot is None or (slot.awake and not slot.draining and self._coord.confirmed(expert))  # [issue 14]

    @property
    def awake(self) -> list[str]:
        return sorted(name for name, s in self._slots.items() if s.awake)

    @property
    def coordinated(self) -> bool:
        """[issue 14] Shared with other replicas: residency may change without a local event."""
        return not isinstance(self._coord, InProcessCoordinator)

    @property
    def swapping(self) -> bool:
        return self._lock.locked()

    def memory_gb(self, expert: str) -> float:
        """What waking ``expert`` would add to the awake set (nothing when it is awake already)."""
        slot = self._slots.get(expert)
        if slot is None:
            return 0.0
        # [issue 14] awake but not yet confirmed by the coordinator: a swap_in only confirms it. With
        # the coordinator down a swap_in fails at once: let it be planned, so the queue gets its 503.
        if not self._coord.available or (slot.awake and not slot.draining and not self._coord.confirmed(expert)):
            return 0.0
        return slot.memory_gb

    def free_gb(self) -> float:
        if self.budget_gb is None:
            return float("inf")
        return self.budget_gb - sum(s.memory_gb for s in self._slots.values() if s.awake)

    def in_use(self, expert: str) -> bool:
        """Some request holds ``expert`` pinned right now."""
        slot = self._slots.get(expert)
        return slot is not None and slot.pins > 0

    def last_used(self, expert: str) -> float:
        slot = self._slots.get(expert)
        return slot.last_used if slot else 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "budget_gb": self.budget_gb,
            "awake": self.awake,
            "free_gb": self.free_gb() if self.budget_gb is not None else None,
            "wakes": self.wakes,
            "sleeps": self.sleeps,
            "swap_seconds": round(self.swap_seconds, 3),
        }

    # ------------------------------------------------------------------ pins

    def try_pin(self, expert: str) -> bool:
        """Pin an awake, non-draining expert for one request; False when it must be woken first."""
        slot = self._slots.get(expert)
        if slot is None:
            return True
        if not slot.awake or slot.draining or not self._coord.confirmed(expert):  # [issue 14]
            return False
        slot.pins += 1
        slot.idle.clear()
        slot.last_used = self._clock()
        return True

    def unpin(self, expert: str) -> None:
        slot = self._slots.get(expert)
        if slot is None:
            return
        slot.pins -= 1
        slot.last_used = self._clock()
        if slot.pins <= 0:
            slot.pins = 0
            slot.idle.set()

    @contextlib.asynccontextmanager
    async def use(self, expert: str) -> AsyncIterator[None]:
        """Hold ``expert`` awake for the body, waking it first (evicting LRU experts) if needed."""
        if expert not in self._slots:
            yield
            return
        while not self.try_pin(expert):
            await self.ensure_awake(expert)
        try:
            yield
        finally:
            self.unpin(expert)

    # ------------------------------------------------------------------ swaps

    async def start(self) -> None:
        """Learn who is asleep (``/is_sleeping``), then sleep experts until the awake set fits."""
        # [issue 14] follow the other replicas; probe and publish under the shared swap lock so no
        # replica's swap lands between what the servers said and what is written.
        await self._coord.start(list(self._slots), lambda e: self._slots[e].pins, self._set_awake)
        try:
            async with self._lock, self._coord.swap_lock():
                states = await asyncio.gather(*(self._probe(s) for s in self._slots.values()))
                for slot, asleep in zip(self._slots.values(), states, strict=True):
                    slot.awake = not asleep
                    await (self._coord.after_sleep(slot.name) if asleep else self._coord.after_wake(slot.name))
                for slot in reversed(list(self._slots.values())):  # keep the first-listed awake
                    if self.free_gb() >= 0:
                        break
                    if slot.awake:
                        try:
                            await self._evict(slot)
                        except ExpertUnavailable as exc:  # a server that is down holds no GPU memory
                            slot.awake = False
                            self.events.append(TraceEvent(kind="error", expert=slot.name, detail=str(exc), at=self._clock()))
        except ExpertUnavailable as exc:  # [issue 14] coordination down: start anyway, swaps are refused until it returns
            self.events.append(TraceEvent(kind="error", expert="residency", detail=str(exc), at=self._clock()))

    async def ensure_awake(self, expert: str) -> list[TraceEvent]:
        """On-demand: make room by sleeping the least recently used experts, then wake ``expert``."""
        return await self.swap_in(expert, victims=[])

    async def swap_in(self, expert: str, victims: list[str]) -> list[TraceEvent]:
        """Sleep ``victims`` (after their in-flight requests finish), make any further room LRU,
        wake ``expert``; returns the ``sleep``/``wake`` events, for the traces of the requests
        that waited for this swap."""
        slot = self._slots.get(expert)
        if slot is None:
            return []
        async with self._lock, self._coord.swap_lock():
            for name, awake in (await self._coord.shared_awake()).items():  # [issue 14] other replicas' swaps
                self._set_awake(name, awake)
            if slot.awake and not slot.draining:
                if self._coord.confirmed(expert) or await self._coord.take(expert):
                    return []
            done: list[TraceEvent] = []
            for name in victims:
                victim = self._slots[name]
                if victim.awake and name != expert:
                    done.append(await self._evict(victim))
            while self.free_gb() < slot.memory_gb:
                done.append(await self._evict(self._lru_victim(exclude=expert)))
            done.append(await self._wake(slot))
            return done

    async def aclose(self) -> None:
        await self._coord.aclose()
        if self._owns_http:
            await self._http.aclose()

    def _lru_victim(self, exclude: str) -> _Slot:
        awake = [s for s in self._slots.values() if s.awake and s.name != exclude]
        if not awake:
            raise ExpertUnavailable(exclude, "does not fit in the GPU-memory budget even with every other expert asleep")
        return min(awake, key=lambda s: (s.pins > 0, s.last_used))

    async def _evict(self, slot: _Slot) -> TraceEvent:
        slot.draining = True
        try:
            await slot.idle.wait()
            await self._coord.before_sleep(slot.name)  # [issue 14] other replicas stop and drain first
            event = await self._post(slot, "/sleep", {"level": self.sleep_level}, "sleep")
            slot.awake = False
            await self._coord.after_sleep(slot.name)
            self.sleeps += 1
            return event
        finally:
            slot.draining = False

    async def _wake(self, slot: _Slot) -> TraceEvent:
        event = await self._post(slot, "/wake_up", None, "wake")
        await self._coord.after_wake(slot.name)  # [issue 14] confirmed awake: others may take leases
        slot.awake = True
        slot.last_used = self._clock()
        self.wakes += 1
        return event

    async def _post(self, slot: _Slot, path: str, params: dict | None, kind: str) -> TraceEvent:
        started = self._clock()
        for attempt in range(_CONTROL_ATTEMPTS):
            try:
                response = await self._http.post(slot.root + path, params=params)
                break
            except httpx.TransportError as exc:
                # A pooled keep-alive connection the server just closed fails like this; sleep and
                # wake are idempotent, so another attempt on a fresh connection is safe.
                if attempt + 1 == _CONTROL_ATTEMPTS:
                    raise ExpertUnavailable(slot.name, f"{kind} failed: {type(exc).__name__}: {exc}") from exc
                await asyncio.sleep(0.05 * (attempt + 1))
        if response.status_code >= 400:
            raise ExpertUnavailable(slot.name, f"{kind} failed: HTTP {response.status_code} {response.text[:200]}")
        took = self._clock() - started
        self.swap_seconds += took
        event = TraceEvent(kind=kind, expert=slot.name, detail=f"{path} took {took:.3f} s", at=started)
        self.events.append(event)
        return event

    def _set_awake(self, expert: str, awake: bool) -> None:
        slot = self._slots.get(expert)
        if slot is not None and not slot.draining:
            slot.awake = awake

    async def recheck(self, expert: str) -> None:
        """[issue 14] After a failed dispatch: ask the server itself whether it sleeps (another
        replica, or an operator, may have put it to sleep) and stop sending to it if so."""
        slot = self._slots.get(expert)
        if not self.coordinated or slot is None or not slot.awake or self._lock.locked():
            # Alone, this manager made every swap itself; with a swap in progress its outcome is the truth.
            return
        async with self._lock:  # no local swap may land between the probe and what we conclude
            if not slot.awake or slot.pins > 0 or not await self._probe(slot):
                return
            slot.awake = False
            self.events.append(TraceEvent(kind="error", expert=expert, detail="found asleep after a failed request", at=self._clock()))
            with contextlib.suppress(ExpertUnavailable):
                await self._coord.after_sleep(expert)

    async def _probe(self, slot: _Slot) -> bool:
        try:
            response = await self._http.get(slot.root + "/is_sleeping", timeout=10.0)
            return bool(response.json().get("is_sleeping", False))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False  # unknown counts as awake: the budget stays conservative


