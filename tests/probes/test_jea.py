"""JEA: role capabilities generated from the probes, shipped, and enforced by the lab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.drivers.lab import lab_endpoints
from harness.drivers.winrm import WinRMDriver
from harness.errors import InputError, ProbeFailedError
from harness.lab.serve import LabServer
from harness.probes.commands import commands_in
from harness.probes.jea import JEA_DIR, ROLES, refusal, render_psrc, rendered, role_commands
from harness.probes.protocol import build_script, probe_kind, probe_names
from harness.targets.inventory import load_inventory, node_endpoint

AUDIT, MOVER = ROLES


def test_the_shipped_files_are_what_the_probes_need() -> None:
    shipped = {p.name: p.read_text(encoding="utf-8") for p in JEA_DIR.iterdir()}
    assert shipped == rendered(), "regenerate: python -m harness.probes.jea harness/probes/jea"


def test_every_probe_command_and_parameter_is_known_statically() -> None:
    for role in ROLES:
        assert role_commands(role).unknown == []
    use = commands_in(build_script("move_vm", {}))
    # The splatted hashtable's keys count as parameters of the command they are splatted to.
    assert {"Name", "Node", "Wait", "MigrationType"} <= use.commands[
        "Move-ClusterVirtualMachineRole"
    ]


def test_the_audit_role_can_read_but_not_move() -> None:
    audit = role_commands(AUDIT).commands
    assert not [c for c in audit if c.split("-")[0].lower() in ("move", "suspend", "resume")]
    assert "Move-ClusterVirtualMachineRole" in role_commands(MOVER).commands
    psrc = render_psrc(AUDIT)
    assert "'Get-VM'" in psrc and "Move-Cluster" not in psrc
    for name in probe_names():
        script = build_script(name, {})
        if probe_kind(name) == "read":
            assert refusal(AUDIT, script) is None, name
            assert refusal(MOVER, script) is None, name
        elif probe_kind(name) == "action":
            assert refusal(MOVER, script) is None, name
            assert refusal(AUDIT, script) is not None, name


def test_a_parameter_outside_the_role_gets_windows_error() -> None:
    script = "Get-ChildItem -LiteralPath C:\\ -Hidden"
    assert refusal(AUDIT, script) == (
        "A parameter cannot be found that matches parameter name 'Hidden'."
    )
    assert "'Remove-VM' is not recognized" in (refusal(AUDIT, "Remove-VM -Name x") or "")


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    with LabServer(speed=50.0) as server:
        yield server


def test_the_lab_enforces_the_role(lab: LabServer) -> None:
    audit = WinRMDriver(lab_endpoints(lab, configuration_name="QMAudit.Audit"))
    mover = WinRMDriver(lab_endpoints(lab, configuration_name="QMAudit.Mover"))
    try:
        assert audit.run_probe("host_info", {}, "HV-A")["node"] == "HV-A"
        vm = lab.topology.vms[0]
        params = {"vm_names": [vm.name], "node": None, "method": "vm_role"}
        with pytest.raises(ProbeFailedError, match=r"is not recognized|parameter cannot be found"):
            audit.run_probe("move_vm", params, "HV-A")
        assert mover.run_probe("move_vm", params, "HV-A")["requested"]
    finally:
        audit.close()
        mover.close()


def test_the_inventory_names_a_configuration(tmp_path: Path) -> None:
    text = Path("docs/inventory-example.yaml").read_text(encoding="utf-8")
    path = tmp_path / "inv.yaml"
    path.write_text(text.replace("# configuration_name:", "configuration_name:"), encoding="utf-8")
    inventory = load_inventory(path)
    endpoint = node_endpoint(inventory.nodes[0], str(path))
    assert (endpoint.configuration_name, endpoint.session) == ("QMAudit.Audit", "auto")
    path.write_text(text.replace("session: auto", "session: ssh"), encoding="utf-8")
    with pytest.raises(InputError, match="session"):
        load_inventory(path)
