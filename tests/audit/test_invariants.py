"""Every move is judged: a setup, restore or leg move that breaks an invariant fails, named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.audit.assertions import InvariantBroken
from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.invariants import MoveCause
from harness.audit.moves import judged_move, quick_migrate
from harness.audit.objects import parse_utc
from harness.drivers.lab import LabDriver
from harness.evidence.verdicts import (
    claim_verdicts,
    classify,
    invariant_claims,
    record_claim_verdicts,
)
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology
from harness.run.restore import Restorer
from tests.audit.test_moves import _with_rule_off


def _cluster(topology: object) -> tuple[Cluster, Catalog]:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    cluster = Cluster(
        LabDriver(LabCluster(topology, clock)), poll_interval_s=0.1, sleep=clock.advance
    )  # type: ignore[arg-type]
    return cluster, Catalog.read(cluster, lambda _n: True)


def _other(vm_owner: str) -> str:
    return "HV-B" if vm_owner != "HV-B" else "HV-A"


@pytest.mark.parametrize("name", ["web 01", "legacy01", "batch01"])
def test_a_healthy_move_keeps_every_invariant(name: str) -> None:
    cluster, catalog = _cluster(load_default_topology())
    vm = catalog.get(name)
    (outcome,) = quick_migrate(cluster, [vm], _other(vm.owner))
    assert outcome.invariants == {}


@pytest.mark.parametrize(
    ("rule", "invariant", "claim"),
    [
        ("files_stay", "files", "QM-04"),
        ("registration_removed_from_source", "registration", "QM-03"),
        ("link_points_at_config", "link", "QM-03"),
        ("restore_from_saved_state", "no reboot", "QM-06"),
        ("state_restored", "state", "QM-06"),
        ("resource_identity_stable", "resource identity", "QM-13"),
        ("guest_identity_stable", "guest identity", "QM-14"),
    ],
)
def test_a_setup_move_that_breaks_an_invariant_fails_naming_the_move(
    tmp_path: Path, rule: str, invariant: str, claim: str
) -> None:
    cluster, catalog = _cluster(_with_rule_off(tmp_path, rule))
    vm = catalog.get("legacy01")  # version 5.0: its link is judged too
    cause = MoveCause("setup", "some scenario", "legacy01 to the other node")
    with pytest.raises(InvariantBroken) as failure:
        judged_move(cluster, [vm], _other(vm.owner), cause)
    message = str(failure.value)
    assert "setup move of scenario 'some scenario'" in message
    assert invariant in message
    # The claims travel typed, and the message names them for people.
    assert claim in failure.value.claims
    assert f"[move invariants broken: {claim}" in message or f", {claim}" in message


def test_a_restore_move_that_breaks_an_invariant_is_recorded_naming_the_restore(
    tmp_path: Path,
) -> None:
    cluster, catalog = _cluster(_with_rule_off(tmp_path, "files_stay"))
    vm = catalog.get("web 01")
    restorer = Restorer(cluster, scenario="round trip")
    restorer.remember(vm)
    quick_migrate(cluster, [vm], _other(vm.owner))
    problems = restorer.restore()
    assert problems == []  # the VM is back where it was, in its state
    (violation,) = restorer.violations
    assert "restore move of scenario 'round trip'" in str(violation) and "files" in str(violation)
    assert violation.claims == ("QM-04",)


def test_an_invariant_failure_fails_the_claims_it_names_not_the_scenarios() -> None:
    message = (
        "the setup move of VM 'a' broke what every quick migration must keep: files "
        "[move invariants broken: QM-04]"
    )
    violation = InvariantBroken(message, ["QM-04"])
    # The one classifier: a restore move's violation in teardown is positive evidence (FAILED).
    assert classify(violation, "teardown") == "failed"
    assert classify(AssertionError("other"), "teardown") == "broken"
    # The claims come from the exception, never from its text: a plain AssertionError whose
    # message merely looks like the marker fails no claim.
    assert invariant_claims(AssertionError(message)) == ()
    assert classify(AssertionError(message), "teardown") == "broken"
    combined = InvariantBroken.combine([violation, InvariantBroken("b", ["QM-03", "QM-04"])])
    assert combined.claims == ("QM-03", "QM-04") and "| b" in str(combined)
    record = {
        "claim": "QM-01",
        "verdict": "failed",
        "claims_violated": list(invariant_claims(violation)),
        "own_verdict": "broken",
    }
    assert record_claim_verdicts(record) == [("QM-04", "failed"), ("QM-01", "broken")]
    assert claim_verdicts([record, {"claim": "QM-01", "verdict": "passed"}]) == {
        "QM-01": "broken",
        "QM-04": "failed",
    }
    assert record_claim_verdicts({"claim": "QM-01", "verdict": "failed"}) == [("QM-01", "failed")]


def test_a_request_that_returns_after_the_save_began_keeps_its_save(tmp_path: Path) -> None:
    """-Wait 0 returns once the move is initiated: the reply can come after the source's 1203.

    The move's events are read from the clock stamped just before the request (requested_utc),
    so a request that returns late (here: one that blocks until the move is done) still shows
    its save; reading from the reply's time lost the offline events and failed QM-01 falsely.
    """
    cluster, catalog = _cluster(_with_rule_off(tmp_path, "wait_zero_returns_pending"))
    vm = catalog.get("web 01")
    (o,) = quick_migrate(cluster, [vm], _other(vm.owner))
    assert o.after is not None and o.after.owner != o.source  # it moved, while the call blocked
    assert o.trace is not None
    started = parse_utc(o.trace.request["requested_utc"])
    assert started < o.trace.requested_utc  # the reply came after the move began
    offline = o.role_events(1203, o.source)
    assert offline and offline[0].time >= started
    assert "save" not in o.invariants and o.invariants == {}
    assert o.downtime_source == "events"
