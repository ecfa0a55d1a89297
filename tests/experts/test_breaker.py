from __future__ import annotations

from experts.helpers import FakeClock

from orchestrator.experts.breaker import BreakerState, CircuitBreaker


def _breaker(clock: FakeClock, threshold: int = 3, cooldown: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, cooldown_s=cooldown, clock=clock)


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    b = _breaker(FakeClock())
    assert [b.record_failure() for _ in range(3)] == [False, False, True]
    assert b.state is BreakerState.OPEN
    assert not b.allow()


def test_breaker_success_resets_the_consecutive_count() -> None:
    b = _breaker(FakeClock())
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_breaker_admits_exactly_one_probe_after_cooldown() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(9.9)
    assert not b.allow()
    assert b.retry_after_s > 0
    clock.advance(0.2)
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()
    assert not b.allow(), "a second call must wait for the probe's verdict"


def test_breaker_closes_when_probe_succeeds() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()


def test_breaker_reopens_for_a_full_cooldown_when_probe_fails() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    assert b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.advance(9)
    assert not b.allow()


def test_breaker_released_probe_lets_another_call_probe() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.release_probe()
    assert b.allow()
