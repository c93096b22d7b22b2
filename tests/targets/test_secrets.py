"""The password never reaches reports, output or error messages: good, wrong and unreachable."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.lab.serve import PASSWORD_ENV, LabServer
from tests.targets.conftest import dead_port, write_inventory

WRONG = "Wr0ng-pass-QMT-91x"


def _qmaudit(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _leaks(root: Path, secret: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            found.append(str(path))
    return found


@pytest.mark.parametrize("case", ["good", "wrong password", "dead port"])
def test_password_never_leaks(
    case: str,
    served_lab: LabServer,
    lab_env: dict[str, str],
    lab_inventory_doc: dict[str, Any],
    tmp_path: Path,
) -> None:
    creds = served_lab.credentials
    assert creds is not None
    doc = copy.deepcopy(lab_inventory_doc)
    doc["defaults"]["retries"] = 0
    env = {**os.environ, **lab_env}
    if case == "wrong password":
        env[PASSWORD_ENV] = WRONG
    if case == "dead port":
        for node in doc["nodes"]:  # one dead port per node: two nodes never share an endpoint
            node["port"] = dead_port()
    work = tmp_path / "work"
    work.mkdir()
    inventory = write_inventory(tmp_path / "inventory.yaml", doc)

    check = _qmaudit(["check-inventory", str(inventory)], work, env)
    run = _qmaudit(["run", "--target", str(inventory), "-m", "QM-11", "--no-report"], work, env)

    expected_check = 0 if case == "good" else 1
    assert check.returncode == expected_check, check.stdout + check.stderr
    # a node that cannot be reached or refuses the credentials: nothing judged (exit 3)
    assert run.returncode == (0 if case == "good" else 3), run.stdout + run.stderr
    reports = work / "reports"
    assert reports.is_dir() and any(reports.rglob("*.json"))
    if case == "wrong password":
        assert "authentication failed" in check.stdout + run.stdout + run.stderr
    for secret in (creds.password, WRONG):
        for name, text in (
            ("check stdout", check.stdout),
            ("check stderr", check.stderr),
            ("run stdout", run.stdout),
            ("run stderr", run.stderr),
        ):
            assert secret not in text, f"{case}: password in {name}"
        assert _leaks(work, secret) == [], f"{case}: password in files"
