"""Keeping CPython's cyclic garbage collector off the gateway's long-lived heap.

The router artifact, the compiled graphs, the config and every library loaded at start-up are
objects that live as long as the process, and each full (generation 2) collection walks all of
them. A routed request allocates enough (LangGraph's per-step state, trace events) to trigger
one every few hundred requests: in-process that was 0.8 ms of collector time per routed request,
and freezing the start-up heap raised routed throughput at 16 clients by ~15%
(docs/benchmarks.md, issue 11). ``gc.freeze()`` moves everything alive now into a permanent
generation the collector skips. It is O(1); the full collection is paid only on a reload, which
unfreezes first so the cycles of a replaced router are still collected.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived"]


def freeze_long_lived(*, collect: bool = False) -> None:
    """Exempt everything alive now from the cyclic GC; ``collect``: first release what the
    previously frozen heap no longer reaches (after a reload)."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
