"""The capture probes read the properties the fidelity ledger cites, and are read-only."""

from __future__ import annotations

import pytest

from harness.capture.collect import CaptureRefused, check_read_only
from harness.errors import InputError
from harness.probes.protocol import load_body, probe_kind, probe_names

CAPTURE_PROBES = [n for n in probe_names() if n.startswith("capture_")]


def test_capture_probes_exist_and_are_read_probes() -> None:
    assert len(CAPTURE_PROBES) == 5
    assert all(probe_kind(n) == "read" for n in CAPTURE_PROBES)


def test_provider_probe_reads_the_documented_properties() -> None:
    body = load_body("capture_event_providers")
    assert "Get-WinEvent -ListProvider $name" in body
    assert "$metadata.Events" in body
    for prop in ("$e.Id", "$e.Version", "$e.Level", "$e.LogLink.LogName", "$e.Description"):
        assert prop in body
    assert "$e.Template" in body


def test_cluster_parameter_probe_reads_name_value_and_type() -> None:
    body = load_body("capture_cluster_parameters")
    assert "Get-ClusterParameter" in body
    assert "$p.Name" in body and "$p.Value" in body
    assert "@('ParameterType', 'Type')" in body


@pytest.mark.parametrize("name", ["move_vm", "drain_node", "resume_node", "lab_crash_node"])
def test_capture_refuses_every_probe_that_is_not_read(name: str) -> None:
    with pytest.raises(CaptureRefused, match=f"probe {name!r} is of kind"):
        check_read_only(["host_info", name])


def test_unknown_probe_is_bad_input() -> None:
    with pytest.raises(InputError, match="unknown probe"):
        check_read_only(["no_such_probe"])


def test_lab_vm_events_carry_their_channel_and_match_by_name_or_vmid() -> None:
    from datetime import UTC, datetime

    from harness.drivers.lab import LabDriver
    from harness.lab.clock import ManualClock
    from harness.lab.model import LabCluster
    from harness.lab.topology import load_default_topology

    cluster = LabCluster(load_default_topology(), ManualClock(datetime(2026, 11, 27, tzinfo=UTC)))
    driver = LabDriver(cluster)
    vm = cluster.vm("legacy01")
    cluster.move_vms([vm.name], "HV-A", "vm_role")
    cluster.settle()
    since = "2026-11-26T00:00:00Z"
    by_name = driver.run_probe(
        "capture_vm_events", {"since_utc": since, "vm_names": [vm.name], "vm_ids": []}, "HV-A"
    )
    by_id = driver.run_probe(
        "capture_vm_events", {"since_utc": since, "vm_names": [], "vm_ids": [vm.vm_id]}, "HV-A"
    )
    other = driver.run_probe(
        "capture_vm_events", {"since_utc": since, "vm_names": ["db01"], "vm_ids": []}, "HV-A"
    )
    logs = {e["id"]: e["log"] for e in by_name["events"]}
    assert logs[1201] == "Microsoft-Windows-FailoverClustering/Operational"
    # No Hyper-V-Worker event: the lab writes none (the audit relies on none).
    assert all(e["provider"] == "Microsoft-Windows-FailoverClustering" for e in by_name["events"])
    assert "System" not in logs.values()
    assert all(vm.name in e["message"] for e in by_name["events"])
    assert other["events"] == []
    # The lab's events carry the role name only, so a VMId alone finds none of them.
    assert by_id["events"] == []
