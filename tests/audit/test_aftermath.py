"""Drains and recover returns are judged: every VM a drain moved keeps the move invariants."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.audit import aftermath
from harness.audit.invariants import MoveCause, violations
from harness.audit.moves import settled
from harness.lab.topology import load_default_topology
from tests.audit.test_invariants import _cluster
from tests.audit.test_moves import _with_rule_off

CAUSE = MoveCause("drain", "a drain scenario", "drain of HV-A")


def _drain(topology: object, node: str = "HV-A") -> list[aftermath.Aftermath]:
    cluster, catalog = _cluster(topology)
    vms = [catalog.get(g.vm_name) for g in cluster.inventory().roles_on(node)]
    before = aftermath.snapshots(cluster, vms)
    names = [vm.name for vm in vms]
    with cluster.draining(node):
        cluster.wait_until(
            lambda: cluster.inventory().node(node).drain_status in ("Completed", "Failed"),  # type: ignore[union-attr]
            900,
            "drain",
        )
        cluster.wait_until(
            lambda: all(settled(s) for s in cluster.move_status(names)[1]), 900, "settled"
        )
    return aftermath.moved(cluster, vms, before)


def test_a_healthy_drain_keeps_every_invariant_for_every_vm_it_moved() -> None:
    results = _drain(load_default_topology())
    assert len(results) >= 2  # quick and live: both are judged
    for r in results:
        assert r.found == {}, r.as_evidence()
        assert r.after.owner != "HV-A" and r.after.owner in r.owners
        assert "HV-A" not in r.owners
    aftermath.judge_moved(results, CAUSE)  # does not raise


@pytest.mark.parametrize(
    ("rule", "invariant", "claim"),
    [
        ("files_stay", "files", "QM-04"),
        ("registration_removed_from_source", "registration", "QM-03"),
        ("guest_identity_stable", "guest identity", "QM-14"),
    ],
)
def test_a_drain_that_breaks_an_invariant_fails_naming_the_drain(
    tmp_path: Path, rule: str, invariant: str, claim: str
) -> None:
    results = _drain(_with_rule_off(tmp_path, rule))
    assert any(invariant in r.found for r in results)
    with pytest.raises(AssertionError) as failure:
        aftermath.judge_moved(results, CAUSE)
    message = str(failure.value)
    assert "drain move of scenario 'a drain scenario' (drain of HV-A)" in message
    assert claim in message.split("[move invariants broken:")[1]


def test_a_drained_vm_must_end_on_an_up_node_other_than_the_drained_one() -> None:
    results = _drain(load_default_topology())
    r = results[0]
    found = violations(r.vm.id, r.before, r.after, ("HV-A",))
    assert found["owner"] == {"expected": ["HV-A"], "observed": r.after.owner}


def test_failures_lists_every_vm_that_broke_an_invariant(tmp_path: Path) -> None:
    results = _drain(_with_rule_off(tmp_path, "files_stay"))
    found = aftermath.failures(results, CAUSE)
    assert len(found) == len(results) >= 2
    assert all(
        f.claims == ("QM-04",) and "[move invariants broken: QM-04]" in str(f) for f in found
    )
    assert aftermath.failures(_drain(load_default_topology()), CAUSE) == []
