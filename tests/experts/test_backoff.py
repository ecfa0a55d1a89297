from __future__ import annotations

import random

from orchestrator.experts.backoff import Backoff


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    b = Backoff(base_s=0.1, max_s=1.0)
    assert [b.ceiling(i) for i in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_backoff_delay_is_full_jitter_within_the_ceiling() -> None:
    b = Backoff(base_s=0.1, max_s=1.0, rng=random.Random(7))
    delays = [b.delay(3) for _ in range(2000)]
    assert all(0.0 <= d <= 0.8 for d in delays)
    assert min(delays) < 0.05 and max(delays) > 0.75, "full jitter spreads over the whole interval"
    assert len(set(delays)) > 1900, "clients that failed together must not retry in lock-step"
