"""Per-expert request queues and the micro-batch flush rule (size, deadline, idle or urgent)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from orchestrator.experts.types import TraceEvent

__all__ = ["ExpertQueue", "QueuedRequest"]


@dataclass(eq=False)
class QueuedRequest:
    """A request waiting for its expert. ``future`` resolves (to None) when the scheduler grants
    it a slot: the expert is then awake and pinned until the caller releases the slot."""

    expert: str
    future: asyncio.Future[None]
    enqueued_at: float
    urgent: bool = False
    """The zero-wait lane (direct pass-through): dispatched as soon as the expert is awake."""
    dispatched_at: float | None = None
    events: list[TraceEvent] = field(default_factory=list)
    """Swaps this request waited for (filled by the scheduler, returned in its trace)."""


@dataclass
class ExpertQueue:
    """FIFO of one expert's waiting requests, plus what the swap policy needs to know about it."""

    name: str
    rate_window_s: float = 30.0
    items: deque[QueuedRequest] = field(default_factory=deque)
    in_flight: int = 0
    arrivals: deque[float] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self.items)

    def push(self, request: QueuedRequest) -> None:
        self.items.append(request)
        self.arrivals.append(request.enqueued_at)

    def drop_cancelled(self) -> None:
        """Requests whose caller gave up (future cancelled) never reach the expert."""
        if any(r.future.done() for r in self.items):
            self.items = deque(r for r in self.items if not r.future.done())

    def oldest_wait(self, now: float) -> float:
        return now - self.items[0].enqueued_at if self.items else 0.0

    def ready(self, now: float, max_batch_size: int, max_wait_s: float) -> bool:
        """Flush when a full batch is waiting, the oldest request has waited ``max_wait_s``, the
        expert is idle (vLLM batches continuously: holding a request for an idle server only
        adds latency), or an urgent request waits."""
        if not self.items:
            return False
        return (
            self.in_flight == 0
            or len(self.items) >= max_batch_size
            or self.oldest_wait(now) >= max_wait_s
            or any(r.urgent for r in self.items)
        )

    def flush_deadline(self, max_wait_s: float) -> float | None:
        return self.items[0].enqueued_at + max_wait_s if self.items else None

    def take(self, n: int, now: float) -> list[QueuedRequest]:
        batch = [self.items.popleft() for _ in range(min(n, len(self.items)))]
        for r in batch:
            r.dispatched_at = now
        return batch

    def rate(self, now: float) -> float:
        """Arrivals per second over the last ``rate_window_s`` (how soon it will have work again)."""
        while self.arrivals and self.arrivals[0] < now - self.rate_window_s:
            self.arrivals.popleft()
        return len(self.arrivals) / self.rate_window_s
