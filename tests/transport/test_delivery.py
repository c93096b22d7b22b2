"""The command line fits cmd.exe's 8,191 characters for every probe: the script goes on stdin."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from harness.probes.protocol import build_script, probe_names
from harness.transport import Endpoint, WinRMSession
from harness.transport.delivery import CMD_MAX_CHARS, ScriptDelivery, encode_command
from tests.transport.fakes import Factory, FakeProtocol

VM_ID = "8f0c7a3e-52b1-4f7d-9a55-3c1e0b2d6a41"
# Long but realistic values: a long VM list, a deep CSV path, 30 event ids.
VM_NAMES = [f"qm-test-app-{i:03d}-frontend.prod.corp.example" for i in range(120)]
REALISTIC: dict[str, dict[str, Any]] = {
    "cluster_events": {"since_utc": "2026-03-01T12:00:00.000000Z", "ids": list(range(1000, 1030))},
    "drain_node": {"node": "HV-NODE-PROD-017"},
    "guest_clock": {
        "vm_name": VM_NAMES[0],
        "guest_user": "CORP\\qm-audit",
        "guest_password": "x" * 64,
    },
    "guest_kvp": {
        "vm_name": VM_NAMES[0],
        "guest_user": "CORP\\qm-audit",
        "guest_password": "x" * 64,
    },
    "move_status": {"vm_names": VM_NAMES},
    "move_vm": {"vm_names": VM_NAMES, "node": "HV-NODE-PROD-017", "method": "quick"},
    "path_info": {"path": "C:\\ClusterStorage\\Volume12\\" + "\\".join(["Hyper-V"] * 30)},
    "resume_node": {"node": "HV-NODE-PROD-017"},
    "vm_details": {"vm_id": VM_ID},
    "vm_registration": {"vm_id": VM_ID},
    "vm_resources": {"vm_id": VM_ID},
}


def _sent_command_line(script: str) -> tuple[str, bytes]:
    proto = FakeProtocol()
    endpoint = Endpoint(node="n1", host="n1.example", username="u", password="p")
    with WinRMSession(endpoint, protocol_factory=Factory(proto)) as session:
        session.run_script(script)
    _shell, command, *args = proto.commands[0]
    return " ".join([command, *args]), proto.inputs[0][1]


@pytest.mark.parametrize("name", probe_names())
def test_every_probe_command_line_fits_cmd_exe(name: str) -> None:
    script = build_script(name, REALISTIC.get(name, {}))
    line, stdin = _sent_command_line(script)
    assert len(line) <= CMD_MAX_CHARS
    assert base64.b64decode(stdin).decode("utf-8") == script


def test_old_delivery_exceeded_the_limit() -> None:
    # The guard above means something: the whole probe as -encodedcommand does not fit.
    longest = max(
        len(f"powershell -encodedcommand {encode_command(build_script(n, REALISTIC.get(n, {})))}")
        for n in probe_names()
    )
    assert longest > CMD_MAX_CHARS
    assert len(ScriptDelivery.of("x").command_line) == len(
        ScriptDelivery.of("y" * 10**6).command_line
    )
