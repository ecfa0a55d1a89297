"""The gateway exempts its start-up heap from the cyclic GC and collects young objects less often."""

import gc

from services.gateway.heap import YOUNG_THRESHOLD, freeze_long_lived


def test_freezing_exempts_what_is_alive_and_a_reload_collects_what_the_old_heap_dropped():
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        kept = [[i] for i in range(1000)]
        freeze_long_lived()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD

        # A replaced object graph with a cycle: frozen, it is never collected, until a reload.
        cycle: list = [[] for _ in range(1000)]
        cycle.append(cycle)
        freeze_long_lived()
        del cycle
        frozen = gc.get_freeze_count()
        freeze_long_lived(collect=True)
        assert gc.get_freeze_count() <= frozen - 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
