"""Whole-VM fingerprint, collateral, every quick request shows its save, the settle window.

Each judge is shown failing on a lab with its defect and silent on the healthy lab, with the
claim its marker names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.audit import collateral, fingerprint, settle
from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.moves import quick_migrate, snapshot
from harness.domain.claims import CLAIM_OF
from harness.drivers.lab import LabDriver
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology, load_topology
from harness.run.restore import Restorer

DEFAULT = Path(__file__).resolve().parents[2] / "harness" / "lab" / "topologies" / "default.yaml"


def _topology(tmp_path: Path, *entries: dict[str, Any], text: str | None = None) -> Any:
    body = text if text is not None else DEFAULT.read_text(encoding="utf-8")
    if not entries:
        path = tmp_path / "t.yaml"
        path.write_text(body, encoding="utf-8")
        return load_topology(path)
    flow = yaml.safe_dump(list(entries), default_flow_style=True).strip()
    path = tmp_path / "t.yaml"
    path.write_text(body.replace("rules_off: []", f"rules_off: {flow}"), encoding="utf-8")
    return load_topology(path)


def _open(topology: Any) -> tuple[Cluster, Catalog, LabCluster]:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    lab = LabCluster(topology, clock)
    cluster = Cluster(LabDriver(lab), poll_interval_s=0.1, sleep=clock.advance)  # type: ignore[arg-type]
    return cluster, Catalog.read(cluster, lambda _n: True), lab


def _other(owner: str) -> str:
    return "HV-B" if owner != "HV-B" else "HV-A"


def test_a_healthy_move_keeps_the_fingerprint_and_touches_nothing_else() -> None:
    cluster, catalog, _ = _open(load_default_topology())
    vm = catalog.get("web 01")
    (o,) = quick_migrate(cluster, [vm], _other(vm.owner))
    assert o.invariants == {}
    assert o.after is not None and o.after.details is not None
    # The fingerprint is really read: configuration, adapters' switch, resource private values.
    assert o.after.details.config["processor_count"] >= 1
    assert o.after.details.config["network_adapters"][0][1] == "ClusterSwitch"
    values = fingerprint.resource_values(o.after.resources[o.after.owner])
    assert any(k.endswith("private CheckHeartbeat") for k in values)
    assert any(k.startswith("group priority") for k in values)
    settle.window(cluster).check_due()
    assert settle.window(cluster).take() == []


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ({"rule": "configuration_kept"}, "configuration"),
        (
            {"rule": "configuration_kept", "params": {"property": "dynamic_memory_enabled"}},
            "configuration",
        ),
        ({"rule": "resource_values_kept"}, "resource values"),
        ({"rule": "move_touches_only_its_role"}, "other roles"),
        ({"rule": "move_keeps_storage_owners"}, "storage owners"),
    ],
)
def test_a_move_that_changes_a_value_or_something_else_is_found(
    tmp_path: Path, rule: dict[str, Any], key: str
) -> None:
    cluster, catalog, _ = _open(_topology(tmp_path, rule))
    vm = catalog.get("batch01")
    (o,) = quick_migrate(cluster, [vm], "HV-C")
    assert key in o.invariants, o.invariants
    assert CLAIM_OF[key]


def test_volatile_private_properties_are_not_compared() -> None:
    before = [
        {
            "id": "r",
            "name": "n",
            "resource_type": "Virtual Machine",
            "private": {"VmState": "2", "MigrationProgress": "0", "CheckHeartbeat": "1"},
            "registry": {
                "present": True,
                "name": "n",
                "type": "t",
                "vm_id": None,
                "parameters": {"MigrationState": "0"},
            },
        }
    ]
    after = [
        {
            **before[0],
            "private": {"VmState": "3", "MigrationProgress": "50", "CheckHeartbeat": "1"},
            "registry": {**before[0]["registry"], "parameters": {"MigrationState": "1"}},
        }
    ]
    assert fingerprint.cluster_changes({"A": before}, {"A": after}) == {}
    after[0]["private"]["CheckHeartbeat"] = "0"
    assert fingerprint.cluster_changes({"A": before}, {"A": after}) == {
        "A": {"r private CheckHeartbeat": ["1", "0"]}
    }


def test_a_value_only_one_side_carries_is_not_compared() -> None:
    assert fingerprint.vm_changes({"a": 1}, {"a": 1, "checkpoints": []}) == {}
    assert fingerprint.vm_changes({"checkpoints": [1]}, {"checkpoints": []}) == {
        "checkpoints": {"checkpoints": [[1], []]}
    }


def test_collateral_leaves_out_what_a_drain_or_crash_may_change() -> None:
    cluster, _catalog, lab = _open(load_default_topology())
    before = cluster.inventory()
    lab.crash_node("HV-A")
    lab.settle()
    cluster.mark_down("HV-A")
    after = cluster.inventory()
    moving = [g.name for g in before.roles_on("HV-A")]
    # The crashed node, its roles and the CSV and core group it owned may change; nothing else.
    assert collateral.changes(before, after, moving, ["HV-A"]) == {}
    assert "node states" in collateral.changes(before, after, moving, [])
    with pytest.raises(AssertionError, match=r"\[move invariants broken: QM-05, QM-17, QM-18\]"):
        collateral.judge(collateral.changes(before, after, [], []), "crash of HV-A")


def test_move_cluster_group_that_live_migrates_shows_no_save(tmp_path: Path) -> None:
    cluster, catalog, _ = _open(_topology(tmp_path, {"rule": "move_request_saves"}))
    vm = catalog.get("web 01")
    (o,) = quick_migrate(cluster, [vm], _other(vm.owner), method="cluster_group")
    assert "save" in o.invariants and CLAIM_OF["save"] == "QM-01"
    assert o.invariants["save"]["logged"], "the cluster's log must show the move"
    # The other way of asking still quick-migrates: no finding.
    (o2,) = quick_migrate(cluster, [catalog.get("batch01")], "HV-C", method="vm_role")
    assert "save" not in o2.invariants


def test_a_move_the_log_does_not_show_gives_no_save_finding(tmp_path: Path) -> None:
    cluster, catalog, lab = _open(_topology(tmp_path, {"rule": "move_request_saves"}))
    for node in lab.nodes.values():
        node.events.clear()
    vm = catalog.get("web 01")
    original = cluster.events
    cluster.events = lambda since, nodes, ids=(): []  # type: ignore[method-assign,assignment]
    (o,) = quick_migrate(cluster, [vm], _other(vm.owner), method="cluster_group")
    cluster.events = original  # type: ignore[method-assign]
    assert "save" not in o.invariants


def test_window_follows_the_cluster_timers() -> None:
    timers = {
        "same_subnet_delay_ms": 1000,
        "same_subnet_threshold": 20,
        "cross_subnet_delay_ms": 2000,
        "cross_subnet_threshold": 5,
        "vm_looks_alive_ms": 5000,
    }
    assert settle.window_s({"timers": timers}) == 20.0
    assert settle.window_s({"timers": {**timers, "same_subnet_threshold": 10}}) == 10.0
    assert settle.window_s({}) == settle.FALLBACK_WINDOW_S
    assert settle.window_s({"timers": {"vm_looks_alive_ms": 1000}}) == settle.MIN_WINDOW_S
    assert (
        settle.window_s({"timers": {"same_subnet_delay_ms": 2000, "same_subnet_threshold": 1000}})
        == settle.MAX_WINDOW_S
    )


@pytest.mark.parametrize(
    ("rule", "key", "claim"),
    [
        ("state_holds_after_move", "heartbeat", "QM-06"),
        ("owner_holds_after_move", "owner", "QM-07"),
    ],
)
def test_a_change_after_the_move_settled_is_found_by_the_settle_window(
    tmp_path: Path, rule: str, key: str, claim: str
) -> None:
    cluster, catalog, _ = _open(_topology(tmp_path, {"rule": rule}))
    vm = catalog.get("web 01")
    (o,) = quick_migrate(cluster, [vm], _other(vm.owner))
    assert o.invariants == {}, "read right after it settled, the move looks clean"
    restorer = Restorer(cluster, scenario="late change")
    restorer.end_scenario()
    assert restorer.violations, "the settle window must find the late change"
    message = str(restorer.violations[0])
    assert restorer.violations[0].claims == (claim,)
    assert key in message and f"[move invariants broken: {claim}]" in message
    assert "read again 20 s after it settled" in message


def test_the_settle_check_waits_out_the_window_on_the_target_clock() -> None:
    cluster, catalog, _lab = _open(load_default_topology())
    vm = catalog.get("batch01")
    (o,) = quick_migrate(cluster, [vm], "HV-C")
    assert o.after is not None
    settle.window(cluster).check_due()
    now = cluster.now()
    assert (now - o.after.utc).total_seconds() >= 20.0
    checks = settle.window(cluster).checks
    assert checks and checks[-1]["new findings"] == []


def test_the_final_check_reads_every_vm_touched_without_collateral(tmp_path: Path) -> None:
    cluster, catalog, _ = _open(load_default_topology())
    quick_migrate(cluster, [catalog.get("web 01")], "HV-B")
    quick_migrate(cluster, [catalog.get("batch01")], "HV-C")
    window = settle.window(cluster)
    window.final()
    assert window.take() == []
    assert {c["vm"] for c in window.checks if "end of the run" in c["when"]} == {
        "web 01",
        "batch01",
    }
    assert snapshot(cluster, catalog.get("web 01")).owner == "HV-B"


def test_failover_target_not_up_is_refused_by_the_crash_check(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace(
        "  - name: HV-C\n    state: Up", "  - name: HV-C\n    state: Paused"
    )
    assert "state: Paused" in text
    for rule_off, expected in ((False, False), (True, True)):
        entries = ({"rule": "failover_to_up_owner"},) if rule_off else ()
        cluster, _catalog, lab = _open(_topology(tmp_path, *entries, text=text))
        before = cluster.inventory()
        lab.crash_node("HV-A")
        lab.settle()
        cluster.mark_down("HV-A")
        found = collateral.failover_target(before, cluster.inventory(), "web 01")
        assert found["not up"] is expected, found
        assert found["seen"]["owner"] == ("HV-C" if rule_off else "HV-B")


def test_an_unreachable_guest_counts_only_when_its_heartbeat_agrees() -> None:
    cluster, catalog, lab = _open(load_default_topology())
    vm = catalog.get("web 01")
    (o,) = quick_migrate(cluster, [vm], "HV-B")
    window = settle.window(cluster)
    pending = window.pending["web 01"]
    assert o.after is not None
    now = snapshot(cluster, vm)
    now.clock = None  # PowerShell Direct did not answer
    assert window._liveness(pending, now) == {}, "heartbeat Ok: the session, not the guest"
    lab.vm("web 01").heartbeat_ok = False
    now = snapshot(cluster, vm)
    now.clock = None
    assert set(window._liveness(pending, now)) == {"heartbeat", "guest reachable"}


def test_a_crash_ends_what_the_moves_of_its_vms_expected() -> None:
    """Random topology #33: a setup move, then a crash of the node it went to; the failover put
    the VM back on its home node, so no restore move followed. The end-of-run check must not
    hold the VM to the setup move (owner, boot time): the crash changed both by design."""
    cluster, catalog, lab = _open(load_default_topology())
    vm = catalog.get("web 01")
    quick_migrate(cluster, [vm], "HV-B")
    window = settle.window(cluster)
    window.check_due()
    with cluster.crashing("HV-B"):
        pass
    lab.settle()
    window.final()
    assert window.take() == []
    assert "web 01" not in window.last
