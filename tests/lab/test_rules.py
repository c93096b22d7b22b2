"""Every rule of harness/lab/rules.py: the behaviour with the rule on, and broken with it off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.errors import LabOperationError
from harness.lab import paths
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.rules import RULE_IDS
from tests.lab.conftest import advance, make_lab

WEB = "web 01"  # 2048 MiB, 9.0, Running on HV-A, CSV


def _moved(c: LabCluster, vm: str = WEB, node: str | None = "HV-B") -> LabCluster:
    c.move_vms([vm], node)
    c.settle()
    return c


def _save_before_move(c: LabCluster) -> bool:
    c.move_vms([WEB], "HV-B")
    advance(c, 1.0)
    with c.session():
        vm = c.vm(WEB)
        return vm.state == "Saving" and vm.owner == "HV-A"


def _saved_state_on_vm_storage(c: LabCluster) -> bool:
    c.move_vms([WEB], "HV-B")
    advance(c, 1.0)
    r = LabResponder(c)
    doc = r.answer("HV-A", "vm_details", {"vm_id": c.vm(WEB).vm_id})
    files = [f["path"] for f in doc["vm"]["saved_state_files"]]
    assert files
    on_storage = all(paths.under(p, c.vm(WEB).spec.storage) for p in files)
    shared = all((ref := c.storage_of(p, "HV-A")) is not None and ref.shared for p in files)
    return on_storage and shared


def _registration_copied(c: LabCluster) -> bool:
    _moved(c)
    return LabResponder(c).answer("HV-B", "vm_registration", {"vm_id": c.vm(WEB).vm_id})["vm_known"]


def _registration_removed(c: LabCluster) -> bool:
    _moved(c)
    doc = LabResponder(c).answer("HV-A", "vm_registration", {"vm_id": c.vm(WEB).vm_id})
    return not doc["vm_known"]


def _link_points_at_config(c: LabCluster) -> bool:
    _moved(c, "legacy01", "HV-A")
    vm = c.vm("legacy01")
    doc = LabResponder(c).answer("HV-A", "vm_registration", {"vm_id": vm.vm_id})
    (entry,) = doc["entries"]
    return bool(
        entry["link_type"] == "SymbolicLink"
        and paths.same(
            entry["target"],
            paths.join(vm.spec.folder, "Virtual Machines", f"{vm.vm_id.upper()}.xml"),
        )
    )


def _files_stay(c: LabCluster) -> bool:
    r = LabResponder(c)
    before = r.answer("HV-A", "vm_details", {"vm_id": c.vm(WEB).vm_id})["vm"]
    _moved(c)
    after = r.answer("HV-B", "vm_details", {"vm_id": c.vm(WEB).vm_id})["vm"]
    keys = ("path", "configuration_location", "snapshot_file_location", "hard_disks")
    return all(before[k] == after[k] for k in keys)


def _disk_ownership_follows(c: LabCluster) -> bool:
    _moved(c, "db01", "HV-C")
    return c.disk_owner["Cluster Disk 2"] == "HV-C"


def _state_restored(c: LabCluster) -> bool:
    return _moved(c).vm(WEB).state == "Running"


def _restore_from_saved_state(c: LabCluster) -> bool:
    boot = c.vm(WEB).guest_boot
    return _moved(c).vm(WEB).guest_boot == boot


def _any_state_movable(c: LabCluster) -> bool:
    try:
        _moved(c, "archive01", "HV-C")
    except LabOperationError:
        return False
    return c.vm("archive01").owner == "HV-C"


def _off_vm_instant(c: LabCluster) -> bool:
    c.move_vms(["archive01"], "HV-C")
    advance(c, 0.99)
    with c.session():
        return c.vm("archive01").owner == "HV-C"


def _metadata_only_network(c: LabCluster) -> bool:
    r = LabResponder(c)
    before = r.answer("HV-A", "network_counters")["adapters"][0]["sent_bytes"]
    started = c.clock.now()
    _moved(c)
    after = r.answer("HV-A", "network_counters")["adapters"][0]["sent_bytes"]
    background = (c.clock.now() - started).total_seconds() * 2048 + 2048
    return after - before - background < 1024 * 1024


def _storage_speed(c: LabCluster) -> bool:
    _moved(c)
    (rec,) = c.ground_truth(WEB)
    mem = 2048 * 1024 * 1024
    expected = mem / 800e6 + 0.5 + mem / 1000e6
    return abs(rec.downtime_s - expected) < 1e-3


def _unavailable_while_moving(c: LabCluster) -> bool:
    c.move_vms([WEB], "HV-B")
    advance(c, 1.0)
    doc = LabResponder(c).answer("HV-A", "vm_details", {"vm_id": c.vm(WEB).vm_id})
    return doc["vm"]["heartbeat"] != "OkApplicationsHealthy"


def _refuse_non_member(c: LabCluster) -> bool:
    with pytest.raises(LabOperationError) as info:
        c.move_vms([WEB], "HV-X")
    assert info.value.code == 5042 and "The cluster node was not found" in info.value.message
    c.settle()
    vm = c.vm(WEB)
    return vm.state == "Running" and vm.owner == "HV-A" and not vm.history


def _storage_reachable(c: LabCluster) -> bool:
    doc = LabResponder(c).answer("HV-B", "path_info", {"path": c.vm(WEB).folder})
    return bool(doc["exists"])


def _resource_identity_stable(c: LabCluster) -> bool:
    r = LabResponder(c)
    vm_id = c.vm(WEB).vm_id
    before = [x["id"] for x in r.answer("HV-A", "vm_resources", {"vm_id": vm_id})["resources"]]
    _moved(c)
    after = [x["id"] for x in r.answer("HV-A", "vm_resources", {"vm_id": vm_id})["resources"]]
    return before == after


def _registry_view_consistent(c: LabCluster) -> bool:
    r = LabResponder(c)
    vm_id = c.vm(WEB).vm_id
    views = [
        [x["registry"] for x in r.answer(n, "vm_resources", {"vm_id": vm_id})["resources"]]
        for n in ("HV-A", "HV-B", "HV-C")
    ]
    return all(v == views[0] for v in views) and all(reg["vm_id"] == vm_id for reg in views[0])


def _guest_identity_stable(c: LabCluster) -> bool:
    macs = c.vm(WEB).macs
    return _moved(c).vm(WEB).macs == macs


def _kvp_host_updated(c: LabCluster) -> bool:
    _moved(c)
    advance(c, 5)
    doc = LabResponder(c).answer("HV-B", "guest_kvp", {"vm_name": WEB})
    return bool(doc["items"]["PhysicalHostName"] == "HV-B")


def _kvp_fqdn_updated(c: LabCluster) -> bool:
    _moved(c)
    advance(c, 5)
    doc = LabResponder(c).answer("HV-B", "guest_kvp", {"vm_name": WEB})
    return bool(doc["items"]["PhysicalHostNameFullyQualified"].startswith("HV-B."))


def _later_moves_clean_up(c: LabCluster) -> bool:
    _moved(c, WEB, "HV-B")
    _moved(c, WEB, "HV-C")  # the second move: HV-B must forget the VM
    doc = LabResponder(c).answer("HV-B", "vm_registration", {"vm_id": c.vm(WEB).vm_id})
    return not doc["vm_known"]


def _guest_lag(c: LabCluster, vm: str, node: str) -> float:
    doc = LabResponder(c).answer(node, "guest_clock", {"vm_name": vm})
    from harness.lab.topology import parse_utc

    return (parse_utc(doc["host_utc_after"]) - parse_utc(doc["guest_utc"])).total_seconds()


def _guest_clock_frozen(c: LabCluster) -> bool:
    _moved(c, "nosync01", "HV-C")  # time sync disabled: the lag stays
    advance(c, 40)
    (rec,) = c.ground_truth("nosync01")
    return abs(_guest_lag(c, "nosync01", "HV-C") - rec.downtime_s) < 1e-3


def _time_sync_corrects(c: LabCluster) -> bool:
    _moved(c)
    advance(c, 30)
    return abs(_guest_lag(c, WEB, "HV-B")) < 1e-3


def _best_possible_node(c: LabCluster) -> bool:
    (answer,) = c.move_vms([WEB], None)
    c.settle()
    return c.vm(WEB).owner not in ("HV-A",) and answer["state"] == "Pending"


def _multi_vm_request(c: LabCluster) -> bool:
    names = [WEB, "batch01", "app 02"]
    c.move_vms(names, "HV-B")
    c.settle()
    return all(c.vm(n).owner == "HV-B" for n in names)


def _drain_priority_split(c: LabCluster) -> bool:
    c.drain_node("HV-A")
    c.settle()
    kinds = {n: c.ground_truth(n)[-1].kind for n in (WEB, "batch01")}
    return kinds == {WEB: "live", "batch01": "quick"}


def _configuration_kept(c: LabCluster) -> bool:
    config = dict(c.vm(WEB).config)
    return _moved(c).vm(WEB).config == config


def _resource_values_kept(c: LabCluster) -> bool:
    r = LabResponder(c)
    vm_id = c.vm(WEB).vm_id
    before = r.answer("HV-C", "vm_resources", {"vm_id": vm_id})
    _moved(c)
    after = r.answer("HV-C", "vm_resources", {"vm_id": vm_id})
    keep = [
        (x["private"].get("CheckHeartbeat"), x["registry"]["parameters"])
        for x in before["resources"]
    ]
    now = [
        (x["private"].get("CheckHeartbeat"), x["registry"]["parameters"])
        for x in after["resources"]
    ]
    return keep == now and before["group"] == after["group"]


def _others(c: LabCluster) -> tuple[Any, Any]:
    doc = LabResponder(c).answer("HV-C", "cluster_inventory")
    return doc["other_groups"], [(v["name"], v["owner_node"]) for v in doc["csvs"]]


def _move_touches_only_its_role(c: LabCluster) -> bool:
    groups = _others(c)[0]
    _moved(c)
    return bool(_others(c)[0] == groups)


def _move_keeps_storage_owners(c: LabCluster) -> bool:
    csvs = _others(c)[1]
    _moved(c)
    return bool(_others(c)[1] == csvs)


def _state_holds_after_move(c: LabCluster) -> bool:
    _moved(c)
    advance(c, 30)
    c.settle()
    return c.vm(WEB).heartbeat_ok


def _owner_holds_after_move(c: LabCluster) -> bool:
    _moved(c)
    advance(c, 30)
    c.settle()
    return c.vm(WEB).owner == "HV-B"


def _move_request_saves(c: LabCluster) -> bool:
    c.move_vms([WEB], "HV-B", "cluster_group")
    c.settle()
    return c.vm(WEB).history[-1].kind == "quick"


def _failover_to_up_owner(c: LabCluster) -> bool:
    c.crash_node("HV-A")
    c.settle()
    owner = c.node(c.vm(WEB).owner)
    return owner.state == "Up"


def _drain_evacuates(c: LabCluster) -> bool:
    c.drain_node("HV-A")
    c.settle()
    doc = LabResponder(c).answer("HV-B", "cluster_inventory")
    node = next(n for n in doc["nodes"] if n["name"] == "HV-A")
    left = [g["name"] for g in doc["vm_groups"] if g["owner_node"] == "HV-A"]
    assert node["state"] == "Paused"
    return node["drain_status"] == "Completed" and not left


def _crash_cold_start(c: LabCluster) -> bool:
    boot = c.vm(WEB).guest_boot
    c.crash_node("HV-A")
    c.settle()
    vm = c.vm(WEB)
    return vm.state == "Running" and vm.owner != "HV-A" and vm.guest_boot > boot


def _wait_zero_returns_pending(c: LabCluster) -> bool:
    (answer,) = c.move_vms([WEB], "HV-B")
    return answer["state"] == "Pending" and c.clock.now() == c.started


def _passthrough_quick_migrates(c: LabCluster) -> bool:
    try:
        _moved(c, "pt01", "HV-C")
    except LabOperationError:
        return False
    return c.vm("pt01").owner == "HV-C" and c.ground_truth("pt01")[-1].kind == "quick"


def _links_under_program_data(c: LabCluster) -> bool:
    vm = c.vm("legacy01")  # 5.0 on HV-C, whose ProgramData is on D:
    doc = LabResponder(c).answer("HV-C", "vm_registration", {"vm_id": vm.vm_id})
    return doc["links_folder"].startswith("D:\\") and len(doc["entries"]) == 1


def _smb_share_continuously_available(c: LabCluster) -> bool:
    doc = LabResponder(c).answer("HV-B", "path_info", {"path": c.vm("app 02").folder})
    return bool(doc["smb"]["continuously_available"])


@dataclass(frozen=True)
class Case:
    rule: str
    check: Callable[[LabCluster], bool]
    off: dict[str, Any]


def _offline_action_save(c: LabCluster) -> bool:
    doc = LabResponder(c).answer("HV-C", "vm_resources", {"vm_id": c.vm(WEB).vm_id})
    return [
        r["offline_action"] for r in doc["resources"] if r["resource_type"] == "Virtual Machine"
    ] == [1]


def _state_paths_on_vm_storage(c: LabCluster) -> bool:
    vm = c.vm(WEB)
    doc = LabResponder(c).answer("HV-A", "vm_details", {"vm_id": vm.vm_id})
    paging = doc["vm"]["smart_paging_file_path"]
    ref = c.storage_of(paging, "HV-A")
    return paths.under(paging, vm.spec.storage) and ref is not None and ref.shared


def _single_registration(c: LabCluster) -> bool:
    r = LabResponder(c)
    vm_id = c.vm(WEB).vm_id
    known = [
        n
        for n in ("HV-A", "HV-B", "HV-C")
        if r.answer(n, "vm_registration", {"vm_id": vm_id})["vm_known"]
    ]
    return known == ["HV-A"]


def _history_offline_before_online(c: LabCluster) -> bool:
    """Every seeded past move of the VM: the source's 1204 before the target's 1200."""
    from harness.domain.events import EventId

    events = sorted(
        (e for n in c.members() for e in n.events if e.properties and e.properties[0] == WEB),
        key=lambda e: e.time,
    )
    moves = [e for e in events if e.id == EventId.ROLE_MOVING]
    assert moves and all(e.time < c.started for e in events)
    for m in moves:
        source, target = m.properties[1], m.properties[2]
        later = [e for e in events if e.time >= m.time]
        offline = next(
            (e for e in later if e.id == EventId.ROLE_OFFLINE and e.node == source), None
        )
        online = next(
            (e for e in later if e.id == EventId.ROLE_ONLINE_BEGIN and e.node == target), None
        )
        if offline is not None and online is not None and online.time < offline.time:
            return False
    return True


CASES = [
    Case("save_before_move", _save_before_move, {"vm": WEB}),
    Case("saved_state_on_vm_storage", _saved_state_on_vm_storage, {"node": "HV-A"}),
    Case("registration_copied_to_target", _registration_copied, {"node": "HV-B"}),
    Case("registration_removed_from_source", _registration_removed, {"vm": WEB}),
    Case("link_points_at_config", _link_points_at_config, {"vm": "legacy01"}),
    Case("files_stay", _files_stay, {"vm": WEB}),
    Case("disk_ownership_follows", _disk_ownership_follows, {}),
    Case("state_restored", _state_restored, {"vm": WEB}),
    Case("restore_from_saved_state", _restore_from_saved_state, {"vm": WEB}),
    Case("any_state_movable", _any_state_movable, {}),
    Case("off_vm_instant", _off_vm_instant, {"vm": "archive01"}),
    Case("metadata_only_network", _metadata_only_network, {"vm": WEB}),
    Case("storage_speed_as_declared", _storage_speed, {"vm": WEB, "params": {"factor": 4}}),
    Case("unavailable_while_moving", _unavailable_while_moving, {"vm": WEB}),
    Case("refuse_non_member", _refuse_non_member, {"vm": WEB}),
    Case("storage_reachable_by_target", _storage_reachable, {"node": "HV-B"}),
    Case("resource_identity_stable", _resource_identity_stable, {"vm": WEB}),
    Case("registry_view_consistent", _registry_view_consistent, {"node": "HV-C"}),
    Case("guest_identity_stable", _guest_identity_stable, {"vm": WEB}),
    Case("kvp_host_updated", _kvp_host_updated, {"vm": WEB}),
    Case("kvp_fqdn_updated", _kvp_fqdn_updated, {"vm": WEB}),
    Case("later_moves_clean_up", _later_moves_clean_up, {"vm": WEB}),
    Case("guest_clock_frozen_while_saved", _guest_clock_frozen, {"vm": "nosync01"}),
    Case("time_sync_corrects", _time_sync_corrects, {"vm": WEB}),
    Case("best_possible_node", _best_possible_node, {}),
    Case("multi_vm_request", _multi_vm_request, {"vm": "batch01"}),
    Case("drain_priority_split", _drain_priority_split, {"vm": "batch01"}),
    Case("drain_evacuates", _drain_evacuates, {"node": "HV-A"}),
    Case("crash_cold_start", _crash_cold_start, {"vm": WEB}),
    Case("wait_zero_returns_pending", _wait_zero_returns_pending, {"vm": WEB}),
    Case("passthrough_quick_migrates", _passthrough_quick_migrates, {"vm": "pt01"}),
    Case("links_under_program_data", _links_under_program_data, {"node": "HV-C"}),
    Case("smb_share_continuously_available", _smb_share_continuously_available, {"node": "HV-B"}),
    Case("configuration_kept", _configuration_kept, {"vm": WEB}),
    Case("resource_values_kept", _resource_values_kept, {"vm": WEB}),
    Case("move_touches_only_its_role", _move_touches_only_its_role, {"vm": WEB}),
    Case("move_keeps_storage_owners", _move_keeps_storage_owners, {"vm": WEB}),
    Case("state_holds_after_move", _state_holds_after_move, {"vm": WEB}),
    Case("owner_holds_after_move", _owner_holds_after_move, {"vm": WEB}),
    Case("move_request_saves", _move_request_saves, {"vm": WEB}),
    Case("failover_to_up_owner", _failover_to_up_owner, {"vm": WEB}),
    Case("offline_action_save", _offline_action_save, {"vm": WEB}),
    Case("state_paths_on_vm_storage", _state_paths_on_vm_storage, {"vm": WEB}),
    Case("single_registration", _single_registration, {"vm": WEB}),
    Case("history_offline_before_online", _history_offline_before_online, {"vm": WEB}),
]


def test_every_rule_has_a_case() -> None:
    assert {c.rule for c in CASES} == RULE_IDS
    assert len(CASES) == len(RULE_IDS)


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_on_shows_the_behaviour(case: Case) -> None:
    assert case.check(make_lab()) is True


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_off_breaks_it(case: Case) -> None:
    assert case.check(make_lab([{"rule": case.rule, **case.off}])) is False


BYSTANDER = [c for c in CASES if "vm" in c.off]


@pytest.mark.parametrize("case", BYSTANDER, ids=[c.rule for c in BYSTANDER])
def test_rule_off_for_another_vm_changes_nothing(case: Case) -> None:
    """Switching a rule off for an uninvolved VM leaves the checked behaviour intact."""
    assert case.check(make_lab([{"rule": case.rule, "vm": "report01"}])) is True


def test_rule_off_for_an_uninvolved_node_changes_nothing() -> None:
    lab = make_lab([{"rule": "saved_state_on_vm_storage", "node": "HV-C"}])
    assert _saved_state_on_vm_storage(lab) is True


def test_every_rule_documents_its_broken_behaviour() -> None:
    from harness.lab.rules import BROKEN

    assert set(BROKEN) == RULE_IDS and all(BROKEN.values())
