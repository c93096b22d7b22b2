"""The real lab model served over WinRM, in-process and through `qmaudit lab serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import winrm

from harness.lab.serve import LabServer
from harness.lab.wsman import LabCredentials
from harness.probes.protocol import build_script


def run_probe(
    url: str, creds: LabCredentials, name: str, params: dict[str, object]
) -> winrm.Response:
    s = winrm.Session(url, auth=(creds.qualified_username, creds.password), transport="ntlm")
    return s.run_ps(build_script(name, params))


def test_lab_model_answers_probes_over_winrm() -> None:
    with LabServer(speed=50.0) as lab:
        creds = lab.credentials
        assert creds is not None
        for node, url in lab.endpoints.items():
            result = run_probe(url, creds, "host_info", {})
            assert result.status_code == 0, result.std_err
            doc = json.loads(result.std_out)
            assert doc["node"] == node
            assert doc["host_utc"].endswith("Z")
        first = next(iter(lab.endpoints.values()))
        refused = run_probe(
            first, creds, "move_vm", {"vm_names": ["web 01"], "node": "HV-X", "method": "vm_role"}
        )
        assert refused.status_code == 1
        assert "5042" in refused.std_err.decode()


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
        assert json.loads(result.std_out)["node"] == "HV-B"
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert creds.password not in out + err
    assert not creds_path.exists()
