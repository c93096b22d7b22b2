"""The lab model: timelines, refusals, placement, drain, crash, time sync (manual clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness.errors import LabOperationError
from harness.lab import paths
from harness.lab.model import LabCluster
from harness.lab.moves import METADATA_BYTES
from tests.lab.conftest import START, advance, make_lab

MiB = 1024 * 1024
WEB = "web 01"


def _ids(c: LabCluster, node: str) -> list[tuple[int, tuple[str, ...]]]:
    return [(e.id, e.properties) for e in c.node(node).events if e.time >= c.started]


def test_quick_migration_timeline_follows_the_throughput_model(lab: LabCluster) -> None:
    mem = 2048 * MiB
    t1, tt = mem / 800e6, mem / 800e6 + 0.5
    t2 = tt + mem / 1000e6
    (answer,) = lab.move_vms([WEB], "HV-B")
    assert answer == {"vm": WEB, "group": WEB, "owner_node": "HV-A", "state": "Pending"}
    vm = lab.vm(WEB)
    assert (vm.state, vm.resource_state) == ("Saving", "OfflinePending")
    advance(lab, t1 / 2)
    with lab.session() as now:
        assert vm.saved is not None
        written = vm.saved.sizes(now)[0][1]
        assert 0 < written < mem  # the memory image is still being written
    advance(lab, t1 / 2 + 0.01)
    with lab.session():
        assert (vm.state, vm.owner) == ("Saved", "HV-A")
    advance(lab, 0.5)
    with lab.session():
        assert (vm.state, vm.owner) == ("Resuming", "HV-B")
        assert vm.vm_id in lab.node("HV-B").registered
        assert vm.vm_id not in lab.node("HV-A").registered
    lab.settle()
    (rec,) = lab.ground_truth(WEB)
    assert rec.downtime_s == pytest.approx(t2, abs=1e-5)
    assert (rec.saved_at - rec.started).total_seconds() == pytest.approx(t1, abs=1e-5)
    assert (vm.state, vm.group_state, vm.resource_state, vm.saved) == (
        "Running",
        "Online",
        "Online",
        None,
    )
    assert _ids(lab, "HV-A") == [
        (1641, (WEB, "HV-A", "HV-B")),
        (1203, (WEB,)),
        (1204, (WEB,)),
    ]
    assert [i for i, _ in _ids(lab, "HV-B")] == [1200, 1201]
    times = {e.id: e.time for e in lab.node("HV-B").events if e.time >= lab.started}
    assert times[1201] == START + timedelta(seconds=rec.downtime_s)


def test_cluster_disk_transfer_takes_longer_and_disk_follows(lab: LabCluster) -> None:
    lab.move_vms(["db01"], "HV-C")
    lab.settle()
    mem = 4096 * MiB
    (rec,) = lab.ground_truth("db01")
    assert rec.downtime_s == pytest.approx(mem / 600e6 + 2.0 + mem / 700e6, abs=1e-5)
    assert lab.disk_owner["Cluster Disk 2"] == "HV-C"


def test_network_carries_only_metadata(lab: LabCluster) -> None:
    lab.move_vms([WEB], "HV-B")
    lab.settle()
    assert lab.node("HV-A").sent_bytes == METADATA_BYTES
    assert lab.node("HV-B").received_bytes == METADATA_BYTES


def test_guest_clock_frozen_uptime_continues_kvp_and_time_sync(lab: LabCluster) -> None:
    vm = lab.vm(WEB)
    with lab.session() as now:
        uptime_before = (vm.guest_now(now) - vm.guest_boot).total_seconds()
    lab.move_vms([WEB], "HV-B")
    mem = 2048 * MiB
    advance(lab, mem / 800e6 + 0.5 + mem / 1000e6 + 1e-5)  # just after t2
    (rec,) = lab.ground_truth(WEB)
    assert vm.clock_offset_s == pytest.approx(-rec.downtime_s)
    assert vm.kvp_host == "HV-A"
    advance(lab, 3.0)
    with lab.session() as now:
        assert vm.kvp_host == "HV-B"
        assert vm.clock_offset_s < 0  # not yet sampled
        assert (vm.guest_now(now) - vm.guest_boot).total_seconds() > uptime_before
    advance(lab, 2.0)
    with lab.session():
        assert vm.clock_offset_s == 0.0


def test_lag_stays_without_time_sync_until_it_is_enabled(lab: LabCluster) -> None:
    lab.move_vms(["nosync01"], "HV-C")
    lab.settle()
    advance(lab, 120)
    vm = lab.vm("nosync01")
    with lab.session():
        assert vm.clock_offset_s < -1
    lab.set_time_sync("nosync01", True)
    advance(lab, 5)
    with lab.session():
        assert vm.clock_offset_s == 0.0


@pytest.mark.parametrize(("name", "state"), [("archive01", "Off"), ("report01", "Saved")])
def test_off_and_saved_vms_move_only_registration(lab: LabCluster, name: str, state: str) -> None:
    vm = lab.vm(name)
    saved_before = list(vm.saved.files) if vm.saved else None
    lab.move_vms([name], "HV-C")
    advance(lab, 0.31)
    with lab.session():
        assert (vm.owner, vm.state) == ("HV-C", state)
    (rec,) = lab.ground_truth(name)
    assert (rec.completed_at - rec.started).total_seconds() == pytest.approx(0.3)
    assert [e.id for e in lab.node(rec.source).events if e.time >= lab.started] == [1641]
    assert (list(vm.saved.files) if vm.saved else None) == saved_before
    if saved_before:
        assert all(paths.under(p, vm.spec.storage) for p, _ in saved_before)


def test_paused_vm_is_restored_paused() -> None:
    lab = make_lab(edit=lambda d: d["vms"][0].update(state="Paused"))
    lab.move_vms([WEB], "HV-C")
    lab.settle()
    assert (lab.vm(WEB).state, lab.vm(WEB).owner) == ("Paused", "HV-C")
    assert lab.ground_truth(WEB)[0].kind == "quick"


def _snapshot(c: LabCluster) -> object:
    with c.session():
        return (
            [
                (v.name, v.state, v.owner, v.group_state, v.folder, v.vm_resource_id, v.saved)
                for v in c.vms.values()
            ],
            [
                (n.name, n.state, sorted(n.registered), dict(n.links), len(n.events))
                for n in c.nodes.values()
            ],
            dict(c.disk_owner),
        )


def _no_owner(d: dict) -> None:
    d["vms"][0]["possible_owners"] = ["HV-A", "HV-B"]


@pytest.mark.parametrize(
    ("setup", "vms", "target", "code"),
    [
        (None, [WEB], "HV-X", 5042),
        (None, [WEB], "NO-SUCH-HOST", 5042),
        (None, ["no such vm"], "HV-B", 5013),
        (None, [WEB, "no such vm"], "HV-B", 5013),
        (lambda c: c.crash_node("HV-C"), [WEB], "HV-C", 5050),
        (lambda c: c.drain_node("HV-C"), [WEB], "HV-C", 5070),
        (lambda c: c.move_vms([WEB], "HV-B"), [WEB], "HV-C", 5023),
        ("no_owner", [WEB], "HV-C", 5071),
    ],
)
def test_refused_moves_change_nothing(
    setup: object, vms: list[str], target: str, code: int
) -> None:
    lab = make_lab(edit=_no_owner) if setup == "no_owner" else make_lab()
    if callable(setup):
        setup(lab)
        if code != 5023:  # 5023: the first move is still in progress
            lab.settle()
    before = _snapshot(lab)
    with pytest.raises(LabOperationError) as info:
        lab.move_vms(vms, target)
    assert info.value.code == code
    assert _snapshot(lab) == before


def test_no_possible_node_is_refused() -> None:
    def edit(d: dict) -> None:
        d["vms"][0]["possible_owners"] = ["HV-A"]

    lab = make_lab(edit=edit)
    with pytest.raises(LabOperationError) as info:
        lab.move_vms([WEB])
    assert info.value.code == 5005


def test_best_possible_node_prefers_owners_then_least_loaded(lab: LabCluster) -> None:
    # db01 (HV-B) prefers HV-B then HV-C: not the source, so HV-C
    lab.move_vms(["db01"])
    # web 01 (HV-A): loads HV-A 4, HV-B 3 -> 2 (db01 leaving), HV-C 2 -> 3: HV-B is least loaded
    lab.move_vms([WEB])
    lab.settle()
    assert lab.vm("db01").owner == "HV-C"
    assert lab.vm(WEB).owner == "HV-B"


def test_best_possible_node_skips_down_and_paused(lab: LabCluster) -> None:
    lab.drain_node("HV-B")
    lab.settle()
    lab.move_vms(["web 01", "batch01"])
    lab.settle()
    assert lab.vm(WEB).owner == lab.vm("batch01").owner == "HV-C"


def test_several_vms_in_one_request(lab: LabCluster) -> None:
    answers = lab.move_vms([WEB, "batch01", "archive01"], "HV-C")
    assert [a["state"] for a in answers] == ["Pending"] * 3
    lab.settle()
    for name in (WEB, "batch01", "archive01"):
        assert lab.vm(name).owner == "HV-C"
        assert len(lab.ground_truth(name)) == 1


def test_drain_then_resume(lab: LabCluster) -> None:
    owned = [v.name for v in lab.vms.values() if v.owner == "HV-A"]
    answer = lab.drain_node("HV-A")
    assert answer["target"] == {"name": "HV-A", "state": "Paused", "drain_status": "InProgress"}
    lab.settle()
    node = lab.node("HV-A")
    assert (node.state, node.drain_status) == ("Paused", "Completed")
    assert not [v for v in lab.vms.values() if v.owner == "HV-A"]
    kinds = {n: lab.ground_truth(n)[-1].kind for n in owned}
    assert kinds == {WEB: "live", "batch01": "quick", "pt01": "quick", "report01": "registration"}
    live = lab.ground_truth(WEB)[-1]
    assert live.saved_state_paths == () and live.network_bytes >= 2048 * MiB
    assert live.completed_at - live.started == timedelta(seconds=2048 * MiB / 1250e6 + 0.5)
    assert lab.vm(WEB).state == "Running"
    assert lab.resume_node("HV-A")["target"] == {
        "name": "HV-A",
        "state": "Up",
        "drain_status": "NotInitiated",
    }
    lab.settle()
    assert not [v for v in lab.vms.values() if v.owner == "HV-A"]  # no failback


def test_crash_fails_over_cold_and_power_on_does_not_fail_back(lab: LabCluster) -> None:
    web = lab.vm(WEB)
    report = lab.vm("report01")
    lab.crash_node("HV-A")
    assert lab.node("HV-A").state == "Down"
    advance(lab, 5.0)
    with lab.session() as now:
        assert web.state == "Starting" and web.owner != "HV-A"
        assert web.guest_boot == now
    advance(lab, 10.0)
    with lab.session() as now:
        assert web.state == "Running" and web.saved is None
        assert web.guest_now(now) == now
        assert report.state == "Saved" and report.owner != "HV-A"
    rec = lab.ground_truth(WEB)[-1]
    assert rec.kind == "failover" and rec.saved_state_paths == ()
    lab.power_on_node("HV-A")
    lab.settle()
    assert lab.node("HV-A").state == "Up"
    assert not [v for v in lab.vms.values() if v.owner == "HV-A"]
    with pytest.raises(LabOperationError):
        lab.crash_node("HV-X")


def test_settle_runs_until_idle(lab: LabCluster) -> None:
    assert lab.settle() == START  # nothing scheduled: the clock does not move
    lab.move_vms(["batch01"], "HV-B")
    assert lab.next_change() is not None
    end = lab.settle()
    assert end > START and lab.next_change() is None
    assert lab.settle() == end
