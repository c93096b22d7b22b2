"""One way to finish a run: `qmaudit run` and plain pytest write the same files; every
finishing step runs even when an earlier one failed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from harness.evidence.finish import FinishingRun, finalise_run
from harness.redact import clear_secrets, register_secret

REPO = Path(__file__).resolve().parents[2]
# One scenario keeps both runs short; the finishing is the same for all.
SELECTION = "QM-13"
# Uuids and hashes in file names.
RANDOM = re.compile(r"[0-9a-f]{6,}(-[0-9a-f]{4,})*")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QM_RUN"))}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _shape(run_dir: Path) -> dict[str, object]:
    """The run's files: top-level names, and per folder the count and kinds of its files
    (Allure and evidence file names carry random ids)."""
    out: dict[str, object] = {}
    for entry in sorted(run_dir.iterdir()):
        if entry.is_dir():
            files = [p for p in entry.rglob("*") if p.is_file()]
            names = sorted({RANDOM.sub("X", p.relative_to(entry).as_posix()) for p in files})
            out[entry.name + "/"] = names
        else:
            out[entry.name] = "file"
    return out


def test_pytest_features_writes_the_same_run_files_as_qmaudit_run(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    done = _run(
        [str(bin_dir / "qmaudit"), "run", "--target", "lab+inproc", "-m", SELECTION,
         "--reports", str(tmp_path / "a")],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (qmaudit_run,) = [p for p in (tmp_path / "a").iterdir() if p.name != "history"]
    done = _run(
        [sys.executable, "-m", "pytest", str(REPO / "features"), "--qm-target", "lab+inproc",
         "-m", SELECTION, f"--qm-run-dir={tmp_path / 'b' / 'run'}", "-p", "no:cacheprovider"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    pytest_run = tmp_path / "b" / "run"
    for name in ("summary.json", "summary.html", "manifest.json", "junit.xml", "evidence/"):
        assert name in _shape(pytest_run), f"plain pytest wrote no {name}"
    assert _shape(pytest_run) == _shape(qmaudit_run)
    assert (tmp_path / "b" / "history" / "index.jsonl").is_file()
    manifest = json.loads((pytest_run / "manifest.json").read_text())
    assert manifest["extra"] == {"target_spec": "lab+inproc", "pytest_exit_code": 0}


class _Raises:
    name = "broken-format"

    def report(self, run: FinishingRun) -> list[str]:
        raise RuntimeError("renderer crashed holding s3cr3t-Pa55word")


class _Writes:
    name = "notes"

    def report(self, run: FinishingRun) -> list[str]:
        (run.run_dir / "notes.txt").write_text("written after the failure\n")
        return ["notes     notes.txt"]


def test_every_finishing_step_runs_after_a_failure_and_the_failure_is_reported(
    tmp_path: Path,
) -> None:
    register_secret("s3cr3t-Pa55word")
    try:
        run = FinishingRun(tmp_path, "20261203T000000Z-abcd", "lab", 0, 1.0)
        done = finalise_run(run, [_Raises(), _Writes()])
    finally:
        clear_secrets()
    assert (tmp_path / "notes.txt").is_file(), "the reporter after the failing one did not run"
    assert done.manifest is not None and (tmp_path / "manifest.json").is_file()
    assert done.sealed
    assert len(done.problems) == 1 and done.problems[0].startswith("broken-format: not written")
    assert "s3cr3t" not in done.problems[0], "a secret reached the problem text"
    files = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert "notes.txt" in {f["path"] for f in files}, "the manifest was written before the end"
