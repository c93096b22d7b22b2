"""Passive mode of a run: nothing can move, move-only scenarios are NOT JUDGED, passive ones run.

`qmaudit run --passive` and `qmaudit plan --passive` pass `--qm-passive`: the run's guard then
refuses every disruptive action before it is journalled (harness/safety/guard.py), every scenario
that makes a move is skipped as NOT JUDGED at setup, and the read-only scenarios of
features/passive.feature (tag @passive: static invariants and history) run. Without the option
those read-only scenarios are deselected, so a normal audit is unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from harness.errors import InputError

PASSIVE_TAG = "passive"
NOT_JUDGED = "NOT JUDGED: only a move can prove this claim, and a passive audit makes none"
DEFAULT_SINCE = "30d"
# The longest history a passive audit reads (event logs rarely keep more; bounded work).
MAX_SINCE_DAYS = 366
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$", re.IGNORECASE)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0}


def add_options(group: pytest.OptionGroup) -> None:
    """The plugin's passive options (the CLI passes them)."""
    group.addoption(
        "--qm-passive",
        action="store_true",
        default=False,
        help="passive audit: no disruptive action; only read-only scenarios are judged",
    )
    group.addoption(
        "--qm-since",
        default=DEFAULT_SINCE,
        help="history window of a passive audit: 30d, 12h, 90m or a UTC time (default 30d)",
    )


def is_passive(config: pytest.Config) -> bool:
    """Whether this run is passive."""
    return bool(config.getoption("--qm-passive", default=False))


def parse_since(text: str, now: datetime, source: str = "--since") -> datetime:
    """The start of the history window: a span back from `now` (30d, 12h, 90m) or a UTC time.

    InputError (exit 2) for anything else, a time in the future, or more than a year back.
    """
    span = _SPAN.match(text or "")
    if span:
        seconds = float(span.group(1)) * _UNIT_S[span.group(2).lower()]
        start = now - timedelta(seconds=seconds)
    else:
        try:
            start = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                source, repr(text), "give a span (30d, 12h, 90m) or a UTC time (2026-11-01T00:00Z)"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    if start > now:
        raise InputError(source, repr(text), "the history window cannot start in the future")
    if now - start > timedelta(days=MAX_SINCE_DAYS):
        raise InputError(source, repr(text), f"at most {MAX_SINCE_DAYS} days of history")
    return start.astimezone(UTC)


def select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A normal run does not run the passive scenarios (deselected, reported as such)."""
    if is_passive(config):
        return
    keep = [i for i in items if i.get_closest_marker(PASSIVE_TAG) is None]
    dropped = [i for i in items if i.get_closest_marker(PASSIVE_TAG) is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def gate(item: pytest.Item) -> None:
    """In a passive run, a scenario that makes a move is NOT JUDGED (skipped before it starts)."""
    if is_passive(item.config) and item.get_closest_marker(PASSIVE_TAG) is None:
        pytest.skip(NOT_JUDGED)
