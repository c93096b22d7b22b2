"""`qmaudit run --passive` and `plan --passive` end to end on the lab: exit 0, no action in the
journal, every claim's verdict says how it was checked; a passive defect fails its claim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology


def _qmaudit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "QM_RUN_ID")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _run_dir(cwd: Path) -> Path:
    (run,) = [p for p in (cwd / "reports").iterdir() if p.name != "history"]
    return run


def test_passive_run_on_the_lab_holds_and_journals_no_action(tmp_path: Path) -> None:
    done = _qmaudit(tmp_path, "run", "--passive", "--target", "lab+sim", "--no-report",
                    "--no-history")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = _run_dir(tmp_path)
    kinds = [json.loads(line)["kind"] for line in (run / "journal.jsonl").read_text().splitlines()]
    assert "action" not in kinds and "done" not in kinds
    records = [json.loads(p.read_text()) for p in (run / "evidence").glob("*.json")]
    assert records and all(r["checked"] in ("move", "passive", "history") for r in records)
    # A scenario that moves is NOT JUDGED, never passed.
    assert all(r["verdict"] == "skipped" for r in records if r["checked"] == "move")
    assert {r["checked"] for r in records if r["verdict"] == "passed"} <= {"passive", "history"}
    summary = json.loads((run / "summary.json").read_text())
    assert all(row["checked"] for row in summary["claims"])
    table = done.stdout
    assert "QM-01  PASSED      history" in table and "needs a move" in table
    assert "past move(s) by cause" in table and "outliers" in table  # the history digest


def test_a_passive_defect_fails_its_claim_from_history(tmp_path: Path) -> None:
    profile = load_profile(PROFILES_DIR / "passive-history-online-before-offline.yaml")
    topology = write_profiled_topology(tmp_path, [profile])
    done = _qmaudit(tmp_path, "run", "--passive", "--target", f"lab+sim:{topology}",
                    "--no-report", "--no-history")  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    assert "QM-01  FAILED      history" in done.stdout
    run = _run_dir(tmp_path)
    failed = [json.loads(p.read_text()) for p in (run / "evidence").glob("*.json")]
    failed = [r for r in failed if r["verdict"] == "failed"]
    assert [(r["claim"], r["checked"]) for r in failed] == [("QM-01", "history")]
    assert "came online on the target before going offline" in failed[0]["failure"]


def test_passive_plan_takes_no_action(tmp_path: Path) -> None:
    done = _qmaudit(tmp_path, "plan", "--passive", "--target", "lab")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no disruptive action would be taken" in done.stdout
    assert "NOT JUDGED when passive" in done.stdout


@pytest.mark.parametrize("since", ["yesterday", "-3d", "2099-01-01T00:00Z", "9999d"])
def test_a_bad_since_is_exit_2(since: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--passive", f"--since={since}"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err and "Traceback" not in err
