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
    """Real time scaled by `speed` lab seconds per real second, starting at `start`.

    Paced (`paced=True`, the lab targets' default): while a transition the model announced is in
    flight (`pace(step_s, until)`: a save, a transfer, a restore), one reading of the clock moves
    it by at most `step_s` lab seconds, however much real time passed since the last reading. A
    slow client (a busy machine, Windows' probe cost) then slows the lab instead of stepping over
    the window: every window spans as many readings as its length over `step_s`. Outside
    transitions the clock runs at `speed`. The answers do not change, only how densely a client
    can sample them (docs/lab-speed.md).
    """

    def __init__(
        self, start: datetime | None = None, speed: float = 20.0, *, paced: bool = False
    ) -> None:
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        self.start = _utc(start) if start is not None else datetime.now(UTC)
        self.speed = speed
        self.paced = paced
        # monotonic so that a wall-clock step on the machine cannot move the lab backwards
        self._origin = time.monotonic()
        self._last = self._origin
        self._lab_s = 0.0
        self._paces: list[tuple[datetime, datetime, float]] = []
        self._lock = threading.Lock()
        # Lab seconds the pacing held back (what a slow client would have stepped over).
        self.held_back_s = 0.0
        self.paced_readings = 0

    def _cap(self, at: datetime) -> float | None:
        self._paces = [p for p in self._paces if p[1] > at]
        return min((step for since, _, step in self._paces if since <= at), default=None)

    def now(self) -> datetime:
        """start + real elapsed seconds x speed (each reading capped during a paced window)."""
        if not self.paced:
            return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
        with self._lock:
            real = time.monotonic()
            step = (real - self._last) * self.speed
            self._last = real
            cap = self._cap(self.start + timedelta(seconds=self._lab_s))
            if cap is not None:
                self.paced_readings += 1
                if step > cap:
                    self.held_back_s += step - cap
                    step = cap
            self._lab_s += step
            return self.start + timedelta(seconds=self._lab_s)

    def pace(self, step_s: float, since: datetime, until: datetime) -> None:
        """From lab time `since` to `until`, move at most `step_s` lab seconds per reading."""
        if self.paced and step_s > 0 and until > since:
            with self._lock:
                self._paces.append((_utc(since), _utc(until), step_s))

    def sleep_until(self, t: datetime) -> None:
        """Really sleep for the scaled remainder until lab time t."""
        while True:
            remaining = (_utc(t) - self.now()).total_seconds()
            if remaining <= 0:
                return
            if not self.paced:
                time.sleep(remaining / self.speed)
                return
            with self._lock:
                cap = self._cap(self.start + timedelta(seconds=self._lab_s))
            time.sleep(min(remaining, cap if cap is not None else remaining) / self.speed)


PACE_ENV = "QM_LAB_PACE"


def pacing_wanted() -> bool:
    """Whether the served lab paces its transitions: on unless QM_LAB_PACE is off/0/false/no."""
    import os

    return os.environ.get(PACE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")
