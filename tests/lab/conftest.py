"""Fixtures for the lab model tests: the default topology as data, clusters on a manual clock."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.topology import DEFAULT_TOPOLOGY, parse_topology
from harness.yamlfile import StrictLoader

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
_DEFAULT: dict[str, Any] = yaml.load(
    DEFAULT_TOPOLOGY.read_text(encoding="utf-8"), Loader=StrictLoader
)


def default_data() -> dict[str, Any]:
    """A fresh, mutable copy of the default topology document."""
    return copy.deepcopy(_DEFAULT)


def make_lab(
    rules_off: list[dict[str, Any]] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> LabCluster:
    """A LabCluster of the default topology (edited, with rules off) on a manual clock."""
    data = default_data()
    data["rules_off"] = list(rules_off or [])
    if edit is not None:
        edit(data)
    return LabCluster(parse_topology(data, "test.yaml"), ManualClock(START))


def advance(c: LabCluster, seconds: float) -> None:
    """Move the lab's manual clock."""
    clock = c.clock
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)


@pytest.fixture
def lab() -> LabCluster:
    return make_lab()


@pytest.fixture
def responder(lab: LabCluster) -> LabResponder:
    return LabResponder(lab)
