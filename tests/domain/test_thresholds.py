"""Thresholds: documented defaults and validated overrides."""

from __future__ import annotations

import pytest

from harness.audit.objects import parse_utc
from harness.domain.thresholds import Thresholds
from harness.errors import InputError


def test_override_and_reject() -> None:
    t = Thresholds().with_overrides({"clock_tolerance_s": 3}, "inv.yaml")
    assert t.clock_tolerance_s == 3.0
    with pytest.raises(InputError, match=r"inv.yaml: \$.thresholds.nope: unknown"):
        Thresholds().with_overrides({"nope": 1}, "inv.yaml")
    with pytest.raises(InputError, match="positive"):
        Thresholds().with_overrides({"clock_tolerance_s": -1}, "inv.yaml")
    with pytest.raises(InputError, match="positive"):
        Thresholds().with_overrides({"clock_tolerance_s": True}, "inv.yaml")


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2026-11-27T22:45:46.1234567Z", 123456),
        ("2026-11-27T22:45:46.5Z", 500000),
        ("2026-11-27T22:45:46Z", 0),
        ("2026-11-27T22:45:46.123456+00:00", 123456),
    ],
)
def test_parse_utc(text: str, micro: int) -> None:
    value = parse_utc(text)
    assert value.microsecond == micro
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
