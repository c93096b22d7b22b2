"""The lab clocks."""

from __future__ import annotations

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
