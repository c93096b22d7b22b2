"""A move serves a later scenario only while it is the last action, of the same kind."""

from __future__ import annotations

from pathlib import Path

from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.ledger import MoveLedger, ObservedMove
from harness.audit.moves import quick_migrate
from harness.lab.topology import load_default_topology
from tests.audit.test_invariants import _cluster, _other
from tests.audit.test_moves import _with_rule_off


def _ledger_with_one_move(
    name: str = "web 01", method: str = "vm_role"
) -> tuple[Cluster, Catalog, MoveLedger, ObservedMove]:
    cluster, catalog = _cluster(load_default_topology())
    ledger = MoveLedger(lambda: cluster.guard.started)
    vm = catalog.get(name)
    outcomes = quick_migrate(cluster, [vm], _other(vm.owner), method)
    move = ledger.add("made it", method, "other", _other(vm.owner), outcomes, restoring=False)
    return cluster, catalog, ledger, move


def test_the_last_move_serves_the_same_vm_state_command_and_target_kind() -> None:
    _, _, ledger, move = _ledger_with_one_move()
    assert move.id == "M01"
    assert ledger.reusable("web 01", "vm_role", "other", state="Running") is move
    assert ledger.reusable("web 01", "vm_role", "node", node=move.requested_node) is move
    assert ledger.reusable("web 01", "vm_role", "node", node="HV-C") is None
    assert ledger.reusable("web 01", "vm_role", "bpn") is None  # the cluster did not choose
    assert ledger.reusable("web 01", "cluster_group", "other") is None
    assert ledger.reusable("web 01", "vm_role", "other", state="Off") is None
    assert ledger.reusable("db01", "vm_role", "other") is None


def test_any_later_action_makes_the_move_stale() -> None:
    cluster, catalog, ledger, _move = _ledger_with_one_move()
    other = catalog.get("batch01")
    quick_migrate(cluster, [other], _other(other.owner))  # not recorded in the ledger
    assert ledger.current() is None
    assert ledger.reusable("web 01", "vm_role", "other") is None


def test_a_refused_move_serves_nobody(tmp_path: Path) -> None:
    cluster, catalog = _cluster(load_default_topology())
    ledger = MoveLedger(lambda: cluster.guard.started)
    vm = catalog.get("web 01")
    outcomes = quick_migrate(cluster, [vm], "HV-X")  # not a member: refused
    assert outcomes[0].refused is not None
    ledger.add("refused", "vm_role", "node", "HV-X", outcomes, restoring=False)
    assert ledger.reusable("web 01", "vm_role", "node", node="HV-X") is None


def test_a_disabled_ledger_shares_nothing() -> None:
    cluster, catalog = _cluster(load_default_topology())
    ledger = MoveLedger(lambda: cluster.guard.started, enabled=False)
    vm = catalog.get("web 01")
    outcomes = quick_migrate(cluster, [vm], _other(vm.owner))
    ledger.add("made it", "vm_role", "other", _other(vm.owner), outcomes, restoring=False)
    assert ledger.reusable("web 01", "vm_role", "other") is None


def test_a_multi_vm_request_serves_no_single_vm_scenario(tmp_path: Path) -> None:
    cluster, catalog = _cluster(_with_rule_off(tmp_path, "files_stay"))
    ledger = MoveLedger(lambda: cluster.guard.started)
    vms = [catalog.get("web 01"), catalog.get("batch01")]  # both on HV-A
    outcomes = quick_migrate(cluster, vms, "HV-B")
    ledger.add("two", "vm_role", "other", "HV-B", outcomes, restoring=False)
    assert ledger.reusable("web 01", "vm_role", "other") is None


def test_move_status_asks_the_owner_for_the_vm_state() -> None:
    # Get-VM answers on the owner only: the lab's move_status run elsewhere has no VM state,
    # and the facade asks the owner, so every caller gets the state the owner reports.
    cluster, catalog = _cluster(load_default_topology())
    db01 = catalog.get("db01")  # owned by HV-B; the facade's control node is HV-A
    raw = cluster.driver.run_probe("move_status", {"vm_names": ["db01"]}, "HV-A")
    assert raw["vms"][0]["vm_state"] is None
    _, statuses = cluster.move_status(["db01", "web 01"])
    assert {s["vm"]: s["vm_state"] for s in statuses} == {"db01": "Running", "web 01": "Running"}
    assert db01.owner == "HV-B"
