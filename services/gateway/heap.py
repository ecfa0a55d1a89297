"""Keeping CPython's cyclic garbage collector off the gateway's hot path.

The router artifact, the compiled graphs, the config and every library loaded at start-up are
objects that live as long as the process, and each full (generation 2) collection walks all of
them. A routed request allocates enough (LangGraph's per-step state and tasks, trace events) to
trigger one every ~250 requests: in-process that was 0.8 ms of collector time per routed
request. ``gc.freeze()`` moves everything alive now into a permanent generation the collector
skips (0.19 ms left). It is O(1); the full collection is paid only on a reload, which unfreezes
first, so the cycles of a replaced router are still collected.

What is left is young-generation collections: with CPython's default threshold (700 net
allocations) a routed request triggers 0.6 of them, each walking the state of every request in
flight. At 20,000 they run ~30x less often and cost 0.04 ms per routed request in all
(in-process); the garbage they wait for is a few MB at most. Non-streamed requests leave no
reference cycles, so their collections stay at ~0.1 ms; routed streams leave ~170 objects in
cycles each, and a collection during streaming then takes 3.5 ms on average, 14.5 ms at most
(docs/benchmarks.md, issue 11).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "freeze_long_lived"]

YOUNG_THRESHOLD = 20_000


def freeze_long_lived(*, collect: bool = False) -> None:
    """Exempt everything alive now from the cyclic GC and collect the young generation less
    often; ``collect``: first release what the previously frozen heap no longer reaches (after a
    reload)."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    if gc.get_threshold()[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD)
