"""The swap policy: which sleeping expert to wake next and whom to put to sleep for it.

A pure function of a snapshot, so it is unit-tested without servers or clocks.

* Most pending work first (Symbolic-MoE's load order), not arrival order.
* Residents are preferred: a resident is evicted only for a candidate with at least
  ``min_swap_batch`` waiting and ``demand_ratio`` times the resident's own demand, where
  demand = pending + arrival rate x swap cost (the work it would gather while we swap).
* Bounded wait: a queue whose oldest request has waited ``max_queue_wait_s`` is *starved* and
  outranks every non-starved queue, whatever the counts; starved queues go oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QueueView", "SwapPlan", "SwapPolicy", "plan_swap"]


@dataclass(frozen=True)
class QueueView:
    name: str
    pending: int
    oldest_wait_s: float
    in_flight: int
    rate: float
    awake: bool
    memory_gb: float
    last_used: float = 0.0


@dataclass(frozen=True)
class SwapPlan:
    incoming: str
    victims: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class SwapPolicy:
    max_queue_wait_s: float = 30.0
    min_swap_batch: int = 8
    demand_ratio: float = 2.0
    swap_cost_s: float = 2.0

    def starved(self, view: QueueView) -> bool:
        return view.pending > 0 and view.oldest_wait_s >= self.max_queue_wait_s

    def demand(self, view: QueueView) -> float:
        return view.pending + view.rate * self.swap_cost_s


def _may_evict(victim: QueueView, incoming: QueueView, policy: SwapPolicy) -> bool:
    if policy.starved(victim):
        return False
    if policy.starved(incoming):
        return True
    if incoming.pending < policy.min_swap_batch:
        return False
    return incoming.pending >= policy.demand_ratio * policy.demand(victim)


def plan_swap(views: list[QueueView], free_gb: float, policy: SwapPolicy) -> SwapPlan | None:
    """The next swap, or None when the awake set should stay as it is."""
    waiting = [v for v in views if not v.awake and v.pending > 0]
    if not waiting:
        return None
    # Starved queues go oldest first (earliest deadline), the rest most pending first.
    incoming = max(waiting, key=lambda v: (1, v.oldest_wait_s, v.pending) if policy.starved(v) else (0, v.pending, v.oldest_wait_s))
    tag = "starved" if policy.starved(incoming) else "most pending"
    if incoming.memory_gb <= free_gb:
        return SwapPlan(incoming.name, (), f"{tag}; fits in free memory")
    residents = sorted(
        (v for v in views if v.awake and v.memory_gb > 0),
        key=lambda v: (policy.starved(v), policy.demand(v), v.in_flight, v.last_used),
    )
    victims: list[str] = []
    room = free_gb
    for v in residents:
        if room >= incoming.memory_gb:
            break
        if not _may_evict(v, incoming, policy):
            break  # residents are sorted cheapest first: if this one stays, so do the rest
        victims.append(v.name)
        room += v.memory_gb
    if room < incoming.memory_gb:
        return None
    return SwapPlan(incoming.name, tuple(victims), f"{tag}: {incoming.pending} pending")
