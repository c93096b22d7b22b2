"""A signed lab run end to end: a failure waived, the summary written, verified by both tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.evidence.signing import NAMESPACE
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology
from tests.evidence.conftest import KeyFiles

# QM-14 broken in the lab (the MAC addresses change on a move); one scenario exercises it.
PROFILE = "mac-address-changed.yaml"
SCENARIO = "guest_keeps_its_identity"
WAIVER = """\
waivers:
  - claim: QM-14
    justification: NIC team rebuild pending (change CHG-4411); MACs are re-assigned on move.
    approved_by: Network CAB
    expires: 2099-12-31
"""


def qmaudit(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QM_LOCK_DIR": str(cwd / "locks")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def broken_lab(tmp_path: Path) -> Path:
    return write_profiled_topology(tmp_path, [load_profile(PROFILES_DIR / PROFILE)])


def test_waived_failure_signed_and_verified(
    tmp_path: Path, broken_lab: Path, key_files: KeyFiles
) -> None:
    target = f"lab+sim:{broken_lab}"
    # Without the waiver the claim fails and the run says so.
    plain = qmaudit(["run", "--target", target, "-k", SCENARIO, "--no-report"], tmp_path)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "QM-14  FAILED" in plain.stdout

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(WAIVER, encoding="utf-8")
    args = ["run", "--target", target, "-k", SCENARIO, "--no-report"]
    args += ["--waivers", str(waivers), "--sign", str(key_files.private)]
    run = qmaudit(args, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "QM-14  WAIVED" in run.stdout and "NIC team rebuild pending" in run.stdout
    # Run folders are named by run id (they start with the date); history/ sits beside them.
    run_dir = max(p for p in (tmp_path / "reports").iterdir() if p.name[:1].isdigit())
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    verdicts = {row["claim"]: row["verdict"] for row in summary["claims"]}
    assert verdicts["QM-14"] == "waived"
    assert summary["waivers_applied"][0]["approved_by"] == "Network CAB"
    assert summary["signature"].startswith("signed at the end of the run")
    assert (run_dir / "waivers.yaml").read_text(encoding="utf-8") == WAIVER
    results = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (run_dir / "allure-results").glob("*-result.json")
    ]
    failed = [r for r in results if r["status"] == "failed"]
    assert failed and all(
        r["statusDetails"]["message"].startswith("WAIVED: NIC team rebuild") for r in failed
    )

    check = qmaudit(
        ["verify", str(run_dir), "--allowed-signers", str(key_files.allowed_signers)], tmp_path
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"GOOD: signed by {key_files.principal}" in check.stdout

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    assert {"summary.html", "summary.json", "waivers.yaml", "junit.xml"} <= listed

    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen not on PATH (Debian: apt-get install -y openssh-client)")
    args = ["ssh-keygen", "-Y", "verify", "-f", str(key_files.allowed_signers)]
    keygen = subprocess.run(
        [
            *args,
            "-I",
            key_files.principal,
            "-n",
            NAMESPACE,
            "-s",
            str(run_dir / "manifest.json.sig"),
        ],
        stdin=(run_dir / "manifest.json").open("rb"),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert keygen.returncode == 0, keygen.stderr
