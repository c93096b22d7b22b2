"""Every read probe through WinRMDriver against LabServer equals LabDriver on the same cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.drivers.lab import LabDriver, lab_endpoints
from harness.drivers.winrm import WinRMDriver
from harness.errors import ProbeFailedError, ProbeOutputError
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.serve import LabServer
from harness.lab.topology import Topology
from harness.lab.wsman import CommandOutcome
from harness.lab.wsman.clixml import throw_stderr
from harness.lab.wsman.server import PERMISSIVE_AUTH
from tests.drivers.conftest import read_calls

FAST = {"operation_timeout_s": 2, "read_timeout_s": 4, "retries": 1, "backoff_s": 0.05}


@pytest.fixture
def served(cluster: LabCluster, topology: Topology) -> Iterator[LabServer]:
    # Basic is among the transports compared: an explicit opt-in (Windows' default refuses it).
    with LabServer(
        topology,
        responder=LabResponder(cluster),
        auth=PERMISSIVE_AUTH,
        allow_unencrypted=True,
    ) as server:
        yield server


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_identical_documents_and_failures(
    served: LabServer, cluster: LabCluster, topology: Topology, transport: str
) -> None:
    remote = WinRMDriver(lab_endpoints(served, transport, **FAST))
    local = LabDriver(cluster)
    try:
        assert remote.nodes == local.nodes
        for name, params, node in read_calls(topology):
            # Same cluster object and a manual clock: documents must be equal field for field.
            assert remote.run_probe(name, params, node) == local.run_probe(name, params, node)
        vm = next(v for v in topology.vms if v.state == "Running")
        failures: list[tuple[str, dict[str, Any], str | None]] = [
            (
                "move_vm",
                {"vm_names": [vm.name], "node": topology.non_members[0].name, "method": "vm_role"},
                vm.owner,
            ),
            ("vm_details", {}, None),
            ("no_such_probe", {}, None),
        ]
        for name, params, node in failures:
            messages = []
            for driver in (remote, local):
                with pytest.raises(ProbeFailedError) as info:
                    driver.run_probe(name, params, node)
                messages.append(info.value.target_message)
            assert messages[0] == messages[1]
        assert [r.probe for r in remote.transcript] == [r.probe for r in local.transcript]
    finally:
        remote.close()


def _serve_answer(topology: Topology, answer: Callable[[str, str], CommandOutcome]) -> LabServer:
    return LabServer(topology, answer=answer, auth=("ntlm",))


@pytest.mark.parametrize(
    "stdout",
    [b'{"node":"HV1","host_utc":"2026-', b"not json at all\r\n", b"", b'{"node":"HV1"}\r\n'],
)
def test_truncated_or_non_json_output_is_probe_output_error(
    topology: Topology, stdout: bytes
) -> None:
    with _serve_answer(topology, lambda node, script: CommandOutcome(0, stdout, b"")) as server:
        driver = WinRMDriver(lab_endpoints(server, **FAST))
        with pytest.raises(ProbeOutputError):
            driver.run_probe("host_info")
        driver.close()


def test_probe_that_throws_surfaces_its_message(topology: Topology) -> None:
    message = "Get-ClusterNode : The cluster service is not running on 'HV1'. (Zoë)"

    def throws(node: str, script: str) -> CommandOutcome:
        return CommandOutcome(1, b"", throw_stderr(message, script))

    with _serve_answer(topology, throws) as server:
        driver = WinRMDriver(lab_endpoints(server, **FAST))
        with pytest.raises(ProbeFailedError) as info:
            driver.run_probe("cluster_inventory")
        driver.close()
    assert info.value.target_message == message
