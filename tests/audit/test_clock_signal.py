"""QM-15 tolerances follow the signal: a small signal is BROKEN, a clock going back FAILS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.moves import MoveOutcome, quick_migrate
from harness.drivers.lab import LabDriver
from harness.errors import ThinEvidenceError
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology
from steps.checks_clock import lag_is_downtime


def _moved() -> MoveOutcome:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    cluster = Cluster(
        LabDriver(LabCluster(load_default_topology(), clock)),
        poll_interval_s=0.1,
        sleep=clock.advance,
    )
    vm = Catalog.read(cluster, lambda _n: True).get("nosync01")
    (outcome,) = quick_migrate(cluster, [vm], "HV-C")
    return outcome


def _scn(outcome: MoveOutcome) -> Any:
    measured: dict[str, float] = {}
    return SimpleNamespace(
        need_outcome=lambda: outcome,
        thresholds=SimpleNamespace(clock_tolerance_s=2.0),
        evidence=SimpleNamespace(measure=lambda k, v, _u: measured.__setitem__(k, v)),
    )


def test_a_lag_of_the_downtime_passes_when_the_signal_is_large() -> None:
    o = _moved()
    assert o.downtime_s is not None and o.downtime_s >= 6.0
    lag_is_downtime(_scn(o))


def test_a_downtime_under_three_tolerances_is_too_small_to_judge() -> None:
    o = _moved()
    o.downtime_s = 5.0  # a running clock (lag 0) and a frozen one (lag 5) are 2.5 tolerances apart
    with pytest.raises(ThinEvidenceError, match="signal too small"):
        lag_is_downtime(_scn(o))


def test_a_guest_clock_that_went_backwards_fails() -> None:
    o = _moved()
    assert o.after is not None and o.after.clock is not None and o.before.clock is not None
    back = o.before.clock.guest_utc - timedelta(seconds=1)
    o.after = replace(o.after, clock=replace(o.after.clock, guest_utc=back))
    with pytest.raises(AssertionError, match="backwards"):
        lag_is_downtime(_scn(o))
