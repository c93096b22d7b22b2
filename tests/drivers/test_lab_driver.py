"""LabDriver: the lab at the probe seam, same validation and failures as over WinRM."""

from __future__ import annotations

from typing import Any

import pytest

from harness.drivers.base import ProbeRecord
from harness.drivers.lab import LabDriver
from harness.errors import LabOperationError, ProbeFailedError, ProbeOutputError
from harness.lab.model import LabCluster
from harness.lab.topology import Topology
from harness.probes.protocol import probe_kind, probe_names
from tests.drivers.conftest import read_calls


def test_nodes_members_first_then_non_members(cluster: LabCluster, topology: Topology) -> None:
    driver = LabDriver(cluster)
    members = [n.name for n in topology.nodes]
    assert driver.nodes == members + [h.name for h in topology.non_members]
    assert driver.run_probe("host_info")["node"] == members[0]


def test_every_read_probe_answers_a_valid_document(cluster: LabCluster, topology: Topology) -> None:
    driver = LabDriver(cluster)
    calls = read_calls(topology)
    reads = {name for name in probe_names() if probe_kind(name) == "read"}
    assert reads == {name for name, _, _ in calls}  # the table covers every read probe
    for name, params, node in calls:
        doc = driver.run_probe(name, params, node)
        assert doc["node"].lower() == (node or topology.nodes[0].name).lower()
    assert len(driver.transcript) == len(calls)
    assert all(r.error is None and r.document for r in driver.transcript)


def test_refused_move_is_probe_failure_with_cluster_text(
    cluster: LabCluster, topology: Topology
) -> None:
    driver = LabDriver(cluster)
    vm = next(v for v in topology.vms if v.state == "Running")
    params = {"vm_names": [vm.name], "node": topology.non_members[0].name, "method": "vm_role"}
    with pytest.raises(ProbeFailedError, match=r"\(Win32 error 5042\)") as info:
        driver.run_probe("move_vm", params, vm.owner)
    assert info.value.target_message.endswith("(Win32 error 5042)")
    assert driver.transcript[-1].error == str(info.value)


def test_unknown_probe_and_bad_params_are_probe_failures(cluster: LabCluster) -> None:
    driver = LabDriver(cluster)
    with pytest.raises(ProbeFailedError, match="no_such_probe"):
        driver.run_probe("no_such_probe")
    with pytest.raises(ProbeFailedError, match="vm_id"):
        driver.run_probe("vm_details", {})


class _Scripted:
    def __init__(self, result: Any) -> None:
        self.result = result

    def answer(self, node: str, probe: str, params: dict[str, Any]) -> Any:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_responder_errors_and_invalid_documents(cluster: LabCluster) -> None:
    seen: list[ProbeRecord] = []
    driver = LabDriver(cluster, _Scripted(LabOperationError(5042, "line one\r\nline two")))
    driver.listeners.append(seen.append)
    with pytest.raises(ProbeFailedError) as info:
        driver.run_probe("host_info")
    assert info.value.target_message == "line one\nline two (Win32 error 5042)"
    driver = LabDriver(cluster, _Scripted({"node": "HV1"}))
    with pytest.raises(ProbeOutputError):
        driver.run_probe("host_info")
    assert len(seen) == 1 and seen[0].error is not None
