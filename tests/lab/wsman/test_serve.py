"""LabServer and the lab answer function: wiring, credentials, banner, clean shutdown."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import winrm

from harness.errors import LabOperationError
from harness.lab.serve import LabServer, make_answer, print_banner
from harness.lab.topology import load_default_topology


class FakeResponder:
    """Answers every probe with its name and node; refuses `move_vm` like a real cluster."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def answer(self, node: str, probe: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((node, probe, params))
        if probe == "move_vm":
            raise LabOperationError(5042, "The cluster node was not found")
        return {"node": node, "probe": probe, "params": params, "text": "ü"}


def fake_parse(text: str) -> tuple[str, dict[str, Any]]:
    name, _, params = text.partition(" ")
    if not name.startswith("probe:"):
        raise ValueError("not a qmaudit probe script")
    return name.removeprefix("probe:"), json.loads(params or "{}")


def test_answer_prints_compact_json() -> None:
    answer = make_answer(FakeResponder(), fake_parse)
    outcome = answer("HV-A", 'probe:host_info {"a": 1}')
    assert outcome.exit_code == 0
    assert outcome.stderr == b""
    assert json.loads(outcome.stdout) == {
        "node": "HV-A",
        "probe": "host_info",
        "params": {"a": 1},
        "text": "ü",
    }
    assert b'"text":"\xc3\xbc"' in outcome.stdout  # UTF-8, not \u escapes, no spaces


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("probe:move_vm {}", "The cluster node was not found (Win32 error 5042)"),
        ("Get-Process", "not a qmaudit probe script"),
    ],
)
def test_answer_errors_are_powershell_throws(script: str, message: str) -> None:
    outcome = make_answer(FakeResponder(), fake_parse)("HV-A", script)
    assert outcome.exit_code == 1
    assert outcome.stdout == b""
    assert outcome.stderr.startswith(b"#< CLIXML\r\n")
    decoded = winrm.Session("http://x/wsman", auth=("u", "p"))._clean_error_msg(outcome.stderr)
    assert decoded.decode().splitlines()[0] == message


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    responder = FakeResponder()
    server = LabServer(
        load_default_topology(),
        answer=make_answer(responder, fake_parse),
        state_dir=str(tmp_path / "state"),
    )
    server.responder = responder
    with server:
        yield server


def test_one_listener_per_host_sharing_credentials(lab: LabServer) -> None:
    topology = lab.topology
    expected = [n.name for n in topology.nodes] + [n.name for n in topology.non_members]
    assert list(lab.endpoints) == expected
    assert len({url for url in lab.endpoints.values()}) == len(expected)
    assert all(url.startswith("http://127.0.0.1:") for url in lab.endpoints.values())
    creds = lab.credentials
    assert creds is not None
    for node, url in lab.endpoints.items():
        s = winrm.Session(url, auth=(creds.username, creds.password), transport="ntlm")
        result = s.run_ps('probe:host_info {"x": 2}')
        assert result.status_code == 0, result.std_err
        assert json.loads(result.std_out)["node"] == node
    assert [call[0] for call in lab.responder.calls] == expected


def test_refusal_surfaces_as_probe_failure(lab: LabServer) -> None:
    creds = lab.credentials
    assert creds is not None
    url = next(iter(lab.endpoints.values()))
    result = winrm.Session(url, auth=(creds.username, creds.password), transport="ntlm").run_ps(
        "probe:move_vm {}"
    )
    assert result.status_code == 1
    assert result.std_err.decode().startswith("The cluster node was not found (Win32 error 5042)")


def test_state_files_are_private(lab: LabServer) -> None:
    assert lab.state_dir is not None and lab.credentials_path is not None
    assert stat.S_IMODE(os.stat(lab.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(lab.credentials_path).st_mode) == 0o600
    ntlm_file = Path(os.environ["NTLM_USER_FILE"])
    assert stat.S_IMODE(os.stat(ntlm_file).st_mode) == 0o600
    endpoints = json.loads((lab.state_dir / "endpoints.json").read_text())
    assert endpoints["endpoints"] == lab.endpoints
    assert lab.credentials is not None
    assert lab.credentials.password not in (lab.state_dir / "endpoints.json").read_text()


def test_banner_names_endpoints_and_file_but_not_the_password(lab: LabServer) -> None:
    out = io.StringIO()
    print_banner(lab, out)
    text = out.getvalue()
    assert lab.credentials is not None
    assert lab.credentials.password not in text
    assert str(lab.credentials_path) in text
    for node, url in lab.endpoints.items():
        assert node in text and url in text


def test_stop_removes_secrets_and_frees_ports(tmp_path: Path) -> None:
    server = LabServer(load_default_topology(), answer=make_answer(FakeResponder(), fake_parse))
    server.start()
    state_dir, creds_path = server.state_dir, server.credentials_path
    assert state_dir is not None and creds_path is not None and creds_path.exists()
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    ports = [listener.port for listener in server.listeners.values()]
    server.stop()
    server.stop()
    assert not state_dir.exists()
    import socket

    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
