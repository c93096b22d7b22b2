"""The real lab model served over WinRM, in-process and through `qmaudit lab serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import winrm

from harness.lab.serve import LabServer
from harness.lab.wsman import LabCredentials
from harness.probes.protocol import build_script
from harness.transport import Endpoint, ScriptResult, WinRMSession


def run_probe(
    url: str, creds: LabCredentials, name: str, params: dict[str, object]
) -> ScriptResult:
    """One probe through qmaudit's transport (bootstrap on the command line, script on stdin)."""
    parts = urlsplit(url)
    endpoint = Endpoint(
        node="lab",
        host=parts.hostname or "",
        port=parts.port,
        scheme="http",
        transport="ntlm",
        username=creds.qualified_username,
        password=creds.password,
        retries=0,
    )
    with WinRMSession(endpoint) as session:
        return session.run_script(build_script(name, params))


def test_lab_model_answers_probes_over_winrm() -> None:
    with LabServer(speed=50.0) as lab:
        creds = lab.credentials
        assert creds is not None
        for node, url in lab.endpoints.items():
            result = run_probe(url, creds, "host_info", {})
            assert result.exit_code == 0, result.stderr
            doc = json.loads(result.stdout)
            assert doc["node"] == node
            assert doc["host_utc"].endswith("Z")
        first = next(iter(lab.endpoints.values()))
        refused = run_probe(
            first, creds, "move_vm", {"vm_names": ["web 01"], "node": "HV-X", "method": "vm_role"}
        )
        assert refused.exit_code == 1
        assert "5042" in refused.stderr


def test_probe_on_the_command_line_is_refused_like_cmd_exe_does() -> None:
    # pywinrm's run_ps puts the whole probe on the command line as -encodedcommand.
    with LabServer(speed=50.0) as lab:
        creds = lab.credentials
        assert creds is not None
        url = next(iter(lab.endpoints.values()))
        s = winrm.Session(url, auth=(creds.qualified_username, creds.password), transport="ntlm")
        result = s.run_ps(build_script("host_info", {}))
        assert (result.status_code, result.std_out) == (1, b"")
        assert result.std_err == b"The command line is too long.\r\n"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_qmaudit_lab_serve_runs_until_interrupted(tmp_path: Path, stop_signal: int) -> None:
    state = tmp_path / "state"
    exe = Path(sys.executable).with_name("qmaudit")
    proc = subprocess.Popen(
        [str(exe), "lab", "serve", "--speed", "30", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(banner)
        urls = dict(re.findall(r"^\s+(\S+)\s+(http://127\.0\.0\.1:\d+/wsman)", text, re.M))
        assert set(urls) == {"HV-A", "HV-B", "HV-C", "HV-X"}, text
        creds_path = state / "credentials.json"
        assert str(creds_path) in text
        creds = LabCredentials.read(creds_path)
        assert creds.password not in text
        result = run_probe(urls["HV-B"], creds, "host_info", {})
        assert json.loads(result.stdout)["node"] == "HV-B"
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert creds.password not in out + err
    assert not creds_path.exists()
