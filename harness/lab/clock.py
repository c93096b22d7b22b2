"""The lab's clocks: a manual clock for tests and scaled real time for the served lab."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class LabClock(Protocol):
    """What the lab model needs from a clock: the lab's current UTC time and a way to wait."""

    def now(self) -> datetime:
        """The lab's current time (tz-aware UTC)."""
        ...

    def sleep_until(self, t: datetime) -> None:
        """Return once the lab time has reached t."""
        ...


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to (unit tests); sleeping advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _utc(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current manual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by `seconds` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("a lab clock never goes backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def sleep_until(self, t: datetime) -> None:
        """Jump to t if it lies in the future."""
        with self._lock:
            t = _utc(t)
            if t > self._now:
                self._now = t


class ScaledClock:
    """Real time scaled by `speed` lab seconds per real second, starting at `start`."""

    def __init__(self, start: datetime | None = None, speed: float = 20.0) -> None:
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        self.start = _utc(start) if start is not None else datetime.now(UTC)
        self.speed = speed
        # monotonic so that a wall-clock step on the machine cannot move the lab backwards
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """start + real elapsed seconds x speed."""
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def sleep_until(self, t: datetime) -> None:
        """Really sleep for the scaled remainder until lab time t."""
        remaining = (_utc(t) - self.now()).total_seconds()
        if remaining > 0:
            time.sleep(remaining / self.speed)
