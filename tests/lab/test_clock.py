"""The lab clocks."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

from harness.lab.clock import ManualClock, ScaledClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    clock.advance(2.5)
    assert clock.now() == T0 + timedelta(seconds=2.5)
    clock.sleep_until(T0 + timedelta(seconds=10))
    assert clock.now() == T0 + timedelta(seconds=10)
    clock.sleep_until(T0)  # the past: no change
    assert clock.now() == T0 + timedelta(seconds=10)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_manual_clock_naive_start_is_utc() -> None:
    assert ManualClock(datetime(2026, 1, 1)).now().tzinfo is UTC


def test_scaled_clock_runs_faster_than_real_time() -> None:
    clock = ScaledClock(T0, speed=100.0)
    assert clock.now().tzinfo is not None
    start = time.monotonic()
    clock.sleep_until(clock.now() + timedelta(seconds=5))  # 0.05 s real
    real = time.monotonic() - start
    assert 0.03 <= real < 1.0
    assert clock.now() >= T0 + timedelta(seconds=5)


def test_scaled_clock_rejects_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        ScaledClock(speed=0)


def test_a_paced_clock_never_steps_over_a_transition_however_slow_the_reader() -> None:
    # A reader that comes back only every 50 ms real (1 lab s at 20x) still sees a 0.6 s phase
    # in about READINGS_PER_WINDOW readings: each reading inside it moves the clock 0.05 s.
    clock = ScaledClock(T0, speed=20.0, paced=True)
    start = clock.now()
    clock.pace(0.05, start, start + timedelta(seconds=0.6))
    seen = []
    for _ in range(20):
        time.sleep(0.05)
        seen.append(clock.now())
    inside = [t for t in seen if t < start + timedelta(seconds=0.6)]
    assert len(inside) >= 10
    gaps = [b - a for a, b in itertools.pairwise([start, *inside])]
    assert all(gap <= timedelta(seconds=0.05) for gap in gaps)
    assert clock.held_back_s > 0
    # Outside the phase the clock runs at its speed again.
    assert seen[-1] - seen[-2] >= timedelta(seconds=0.5)


def test_an_unpaced_clock_ignores_pacing() -> None:
    clock = ScaledClock(T0, speed=20.0)
    start = clock.now()
    clock.pace(0.01, start, start + timedelta(seconds=60))
    time.sleep(0.05)
    assert clock.now() - start >= timedelta(seconds=0.9)
