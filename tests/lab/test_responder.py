"""The lab responder: every probe answers schema-valid documents as the asked node sees things."""

from __future__ import annotations

from typing import Any

import pytest

from harness.domain.events import queries
from harness.errors import LabOperationError
from harness.lab.model import LabCluster
from harness.lab.responder import ACTION, LAB_ONLY, READ, LabResponder
from harness.lab.state import iso
from harness.schemas import validate_probe_output
from tests.lab.conftest import advance, make_lab

WEB = "web 01"


def _params(c: LabCluster) -> dict[str, dict[str, Any]]:
    web = c.vm(WEB)
    return {
        "host_info": {},
        "cluster_inventory": {},
        "vm_details": {"vm_id": web.vm_id},
        "vm_registration": {"vm_id": c.vm("legacy01").vm_id},
        "vm_resources": {"vm_id": web.vm_id},
        "guest_clock": {"vm_name": WEB},
        "guest_kvp": {"vm_name": WEB},
        "cluster_events": {"since_utc": "2000-01-01T00:00:00Z", "queries": queries([1641])},
        "path_info": {"path": web.folder},
        "network_counters": {},
        "move_status": {"vm_names": [WEB, "archive01"]},
        "move_vm": {"vm_names": [WEB], "node": None, "method": "cluster_group"},
        "drain_node": {"node": "HV-C"},
        "resume_node": {"node": "HV-C"},
        "lab_set_time_sync": {"vm_name": "nosync01", "enabled": True},
        "lab_crash_node": {"node": "HV-B"},
        "lab_power_on_node": {"node": "HV-B"},
        **_capture_params(c),
    }


def _capture_params(c: LabCluster) -> dict[str, dict[str, Any]]:
    ids = [c.vm(WEB).vm_id, c.vm("legacy01").vm_id]
    return {
        "capture_event_providers": {"providers": ["Microsoft-Windows-FailoverClustering"]},
        "capture_vm_events": {
            "since_utc": "2000-01-01T00:00:00Z",
            "vm_names": [WEB],
            "vm_ids": ids,
        },
        "capture_cluster_parameters": {"vm_names": [WEB, "no such vm"]},
        "capture_vm_properties": {"vm_ids": ids},
        "capture_registration_folders": {"vm_ids": ids},
    }


def test_every_probe_answers_a_schema_valid_document() -> None:
    c = make_lab()
    r = LabResponder(c)
    params = _params(c)
    assert set(params) == READ | ACTION | LAB_ONLY
    order = [*sorted(READ), "move_vm", "drain_node", "resume_node", "lab_set_time_sync"]
    for probe in order:
        doc = r.answer("HV-A", probe, params[probe])
        validate_probe_output(probe, doc)
        assert doc["node"] == "HV-A" and doc["host_utc"].endswith("Z")
        advance(c, 0.7)
        if probe == "move_vm":  # read probes again mid-move, with saved state present
            for read in sorted(READ - {"guest_clock", "guest_kvp"}):
                validate_probe_output(read, r.answer("HV-A", read, params[read]))
            c.settle()
    c.settle()
    for probe in ("lab_crash_node", "lab_power_on_node"):
        validate_probe_output(probe, r.answer("HV-A", probe, params[probe]))


def test_vm_seen_only_where_registered(responder: LabResponder, lab: LabCluster) -> None:
    vm_id = lab.vm(WEB).vm_id
    found = {n: responder.answer(n, "vm_details", {"vm_id": vm_id})["found"] for n in lab.nodes}
    assert found == {"hv-a": True, "hv-b": False, "hv-c": False, "hv-x": False}
    with pytest.raises(LabOperationError) as info:
        responder.answer("HV-B", "guest_clock", {"vm_name": WEB})
    assert info.value.code == 21
    with pytest.raises(LabOperationError):
        responder.answer("HV-B", "guest_kvp", {"vm_name": WEB})


def test_registration_view_per_node(responder: LabResponder, lab: LabCluster) -> None:
    legacy = lab.vm("legacy01")  # 5.0 on HV-C (ProgramData on D:)
    doc = responder.answer("HV-C", "vm_registration", {"vm_id": legacy.vm_id})
    assert doc["links_folder"] == "D:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Virtual Machines"
    (entry,) = doc["entries"]
    assert entry["name"].lower().startswith(legacy.vm_id) and entry["link_type"] == "SymbolicLink"
    assert doc["vm_known"] is True
    other = responder.answer("HV-A", "vm_registration", {"vm_id": legacy.vm_id})
    assert other["entries"] == [] and other["vm_known"] is False
    assert doc["config_version"] == "5.0" and doc["cache_entries"] == []
    web_id = lab.vm(WEB).vm_id
    web = responder.answer("HV-A", "vm_registration", {"vm_id": web_id})
    assert web["entries"] == [] and web["vm_known"] and web["config_version"] == "9.0"
    # 6.2+: a per-VM cache entry; data.vmcx is the host-wide store beside, not inside, the
    # 'Virtual Machines' folder.
    assert (
        web["cache_folder"]
        == "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Virtual Machines Cache"
    )
    assert [e["name"] for e in web["cache_entries"]] == [f"{web_id.upper()}.vmcx", web_id.upper()]
    assert web["host_store"] == {
        "path": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\data.vmcx",
        "present": True,
    }


def test_a_move_carries_the_cache_entry_with_the_registration(
    responder: LabResponder, lab: LabCluster
) -> None:
    web_id = lab.vm(WEB).vm_id
    responder.answer("HV-A", "move_vm", {"vm_names": [WEB], "node": "HV-B"})
    lab.settle()
    source = responder.answer("HV-A", "vm_registration", {"vm_id": web_id})
    target = responder.answer("HV-B", "vm_registration", {"vm_id": web_id})
    assert (source["vm_known"], source["cache_entries"], source["config_version"]) == (
        False,
        [],
        None,
    )
    assert target["vm_known"] and len(target["cache_entries"]) == 2
    # The host-wide store stays on both nodes: it says nothing about this VM.
    assert source["host_store"]["present"] and target["host_store"]["present"]


@pytest.mark.parametrize(
    ("node", "path", "reachable"),
    [
        ("HV-B", "C:\\ClusterStorage\\Volume1\\web 01", True),
        ("HV-X", "C:\\ClusterStorage\\Volume1", False),
        ("HV-B", "E:\\db01", True),
        ("HV-A", "E:\\db01", False),
        ("HV-X", "\\\\FS1\\VMs\\app 02", True),
        ("HV-A", "\\\\fs1\\vms\\APP 02\\Virtual Hard Disks\\app 02.vhdx", True),
        ("HV-C", "D:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Virtual Machines", True),
        ("HV-A", "D:\\ProgramData", False),
        ("HV-A", "C:\\ClusterStorage\\Volume1-old", False),
        ("HV-A", "C:\\ClusterStorage\\Volume1\\nothing here", False),
    ],
)
def test_path_info(responder: LabResponder, node: str, path: str, reachable: bool) -> None:
    doc = responder.answer(node, "path_info", {"path": path})
    assert doc["exists"] is reachable
    assert (doc["resolved_path"] is not None) is reachable


def test_file_vs_directory(responder: LabResponder) -> None:
    disk = "C:\\ClusterStorage\\Volume1\\web 01\\Virtual Hard Disks\\web 01.vhdx"
    assert responder.answer("HV-A", "path_info", {"path": disk})["is_directory"] is False
    folder = "C:\\ClusterStorage\\Volume1\\web 01"
    assert responder.answer("HV-A", "path_info", {"path": folder})["is_directory"] is True


def test_non_member_and_down_hosts(responder: LabResponder, lab: LabCluster) -> None:
    with pytest.raises(LabOperationError) as info:
        responder.answer("HV-X", "cluster_inventory", {})
    assert info.value.code == 1060 and "not a cluster member" in info.value.message
    assert responder.answer("HV-X", "host_info", {})["cluster_name"] is None
    responder.answer("HV-A", "lab_crash_node", {"node": "HV-B"})
    with pytest.raises(LabOperationError) as down:
        responder.answer("HV-B", "host_info", {})
    assert down.value.code == 1722
    with pytest.raises(LabOperationError):
        responder.answer("HV-B", "move_vm", {"vm_names": [WEB], "node": "HV-C"})
    responder.answer("HV-B", "lab_power_on_node", {"node": "HV-B"})  # the lab controller
    assert responder.answer("HV-B", "host_info", {})["node"] == "HV-B"
    with pytest.raises(LabOperationError) as unknown:
        responder.answer("NOPE", "host_info", {})
    assert unknown.value.code == 11001


def test_unknown_probe_and_bad_params(responder: LabResponder) -> None:
    with pytest.raises(ValueError, match="no_such_probe"):
        responder.answer("HV-A", "no_such_probe", {})
    with pytest.raises(ValueError, match="vm_id"):
        responder.answer("HV-A", "vm_details", {})
    with pytest.raises(ValueError, match="method"):
        responder.answer("HV-A", "move_vm", {"vm_names": [WEB], "node": None, "method": "x"})


def test_move_refusal_message(responder: LabResponder) -> None:
    with pytest.raises(LabOperationError) as info:
        responder.answer("HV-A", "move_vm", {"vm_names": [WEB], "node": "HV-X"})
    assert str(info.value) == "The cluster node was not found (Win32 error 5042)"


def test_events_filtered_by_time_and_id(responder: LabResponder, lab: LabCluster) -> None:
    responder.answer("HV-A", "move_vm", {"vm_names": [WEB], "node": "HV-B"})
    lab.settle()
    # Since the lab started: its logs also hold the seeded history of older moves.
    asked = {"queries": queries([1641, 1204]), "since_utc": iso(lab.started)}
    events = responder.answer("HV-A", "cluster_events", asked)["events"]
    assert [e["id"] for e in events] == [1641, 1204]
    assert events[0]["properties"] == [WEB, "HV-A", "HV-B"]
    assert {e["log"] for e in events} == {"Microsoft-Windows-FailoverClustering/Operational"}
    late = responder.answer(
        "HV-A", "cluster_events", {**asked, "since_utc": "2100-01-01T00:00:00Z"}
    )
    assert late["events"] == []


def test_events_are_read_from_their_own_channel_only(
    responder: LabResponder, lab: LabCluster
) -> None:
    # Windows writes the role events to FailoverClustering/Operational: asking the System log
    # for them (what the probe did before) finds nothing.
    responder.answer("HV-A", "move_vm", {"vm_names": [WEB], "node": "HV-B"})
    lab.settle()
    system = [{"log": "System", "provider": "Microsoft-Windows-FailoverClustering", "ids": [1641]}]
    assert responder.answer("HV-A", "cluster_events", {"queries": system})["events"] == []
    since = iso(lab.started)  # the move's own events, not the seeded history's
    own = responder.answer(
        "HV-A", "cluster_events", {"queries": queries([1641]), "since_utc": since}
    )["events"]
    assert [e["id"] for e in own] == [1641]


def test_registry_view_is_read_the_same_everywhere(
    responder: LabResponder, lab: LabCluster
) -> None:
    vm_id = lab.vm(WEB).vm_id
    docs = [responder.answer(n, "vm_resources", {"vm_id": vm_id}) for n in ("HV-A", "HV-B", "HV-C")]
    assert docs[0]["resources"] == docs[1]["resources"] == docs[2]["resources"]
    types = [r["resource_type"] for r in docs[0]["resources"]]
    assert types == ["Virtual Machine", "Virtual Machine Configuration"]
    assert docs[0]["resources"][0]["offline_action"] == 1


SMB_VM = "\\\\FS1\\VMs\\app 02"


def test_path_info_reports_the_smb_connections_continuous_availability() -> None:
    doc = LabResponder(make_lab()).answer("HV-A", "path_info", {"path": SMB_VM})
    assert doc["smb"] == {
        "server": "FS1",
        "share": "VMs",
        "connections": 1,
        "continuously_available": True,
    }
    csv = LabResponder(make_lab()).answer("HV-A", "path_info", {"path": "C:\\ClusterStorage"})
    assert csv["smb"] is None
    admin = LabResponder(make_lab()).answer("HV-A", "path_info", {"path": "\\\\HV-A\\C$\\x"})
    assert admin["smb"]["continuously_available"] is not True


def test_a_share_declared_not_continuously_available_is_reported_so() -> None:
    def not_ca(data: dict[str, Any]) -> None:
        data["storage"]["smb_shares"][0]["continuously_available"] = False

    doc = LabResponder(make_lab(edit=not_ca)).answer("HV-B", "path_info", {"path": SMB_VM})
    assert doc["exists"] is True
    assert doc["smb"]["continuously_available"] is False
    validate_probe_output("path_info", doc)


def test_the_rule_off_makes_every_share_not_continuously_available_on_that_node() -> None:
    lab = make_lab([{"rule": "smb_share_continuously_available", "node": "HV-A"}])
    answer = LabResponder(lab).answer
    assert answer("HV-A", "path_info", {"path": SMB_VM})["smb"]["continuously_available"] is False
    assert answer("HV-B", "path_info", {"path": SMB_VM})["smb"]["continuously_available"] is True


def test_a_node_without_a_connection_to_the_share_cannot_tell() -> None:
    lab = make_lab([{"rule": "storage_reachable_by_target", "node": "HV-B"}])
    doc = LabResponder(lab).answer("HV-B", "path_info", {"path": SMB_VM})
    assert doc["exists"] is False
    assert doc["smb"] == {
        "server": "FS1",
        "share": "VMs",
        "connections": 0,
        "continuously_available": None,
    }


def test_a_missing_folder_on_a_reachable_share_still_shows_the_connection() -> None:
    doc = LabResponder(make_lab()).answer("HV-A", "path_info", {"path": "\\\\FS1\\VMs\\gone"})
    assert doc["exists"] is False
    assert doc["smb"]["connections"] == 1 and doc["smb"]["continuously_available"] is True
