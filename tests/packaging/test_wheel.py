"""The wheel is the whole audit: built, installed in a fresh venv, run from an empty folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(
    args: list[str], cwd: Path, timeout: float = 600, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_wheel_installs_and_audits_from_an_empty_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        tmp_path,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("qmaudit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "features/__init__.py",
        "features/test_quick_migration.py",
        "features/saved_state.feature",
        "steps/common.py",
        "harness/probes/move_vm.ps1",
        "harness/probes/lib/common.ps1",
        "harness/schemas/evidence.schema.json",
        "harness/lab/topologies/default.yaml",
        "harness/lab/profiles/files-moved.yaml",
        "harness/evidence/allurerc.mjs",
        "harness/evidence/allure_tool/package.json",
        "harness/evidence/allure_tool/package-lock.json",
        "harness/docs/windows-fidelity.md",
    ):
        assert needed in names, needed
    features = {n for n in names if n.startswith("features/") and n.endswith(".feature")}
    assert len(features) == len(list((ROOT / "features").glob("*.feature")))
    fidelity = zipfile.ZipFile(wheel).read("harness/docs/windows-fidelity.md").decode()
    assert fidelity == (ROOT / "docs" / "windows-fidelity.md").read_text(encoding="utf-8")

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], tmp_path).returncode == 0
    python = venv / "bin" / "python"
    installed = _run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "requirements-ci.txt"),
         str(wheel)],
        tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]

    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run(
        [str(venv / "bin" / "qmaudit"), "run", "--target", "lab+inproc", "--no-report"], empty
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every claim checked holds" in done.stdout
    # The run folder (named by its run id, a date); the history folder sits beside it.
    (run_dir,) = [p for p in (empty / "reports").iterdir() if p.name[:1].isdigit()]
    records = list((run_dir / "evidence").glob("*.json"))
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert len(records) >= 37 and manifest["summary"]["verdicts"]["passed"] >= 37
    assert set(manifest["summary"]["claims"].values()) == {"passed"}
    assert str(ROOT) not in done.stdout  # nothing came from the checkout
    # --reports DIR puts the run elsewhere; nothing new appears in the current folder.
    other = tmp_path / "elsewhere"
    done = _run(
        [str(venv / "bin" / "qmaudit"), "run", "--target", "lab+sim", "-m", "QM-13",
         "--no-report", "--reports", str(other)],
        empty,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(list(other.glob("*/evidence/*.json"))) == 1
    assert len([p for p in (empty / "reports").iterdir() if p.name[:1].isdigit()]) == 1
    # With Node.js on PATH, the wheel renders the HTML report: its pinned Allure tool is
    # installed into the user's cache on first use (here a fresh cache folder).
    if shutil.which("node") and shutil.which("npm"):
        cache = tmp_path / "cache"
        done = _run(
            [str(venv / "bin" / "qmaudit"), "run", "--target", "lab+sim", "-m", "QM-13",
             "--no-history", "--reports", str(tmp_path / "with-report")],
            empty,
            timeout=900,
            QM_CACHE_DIR=str(cache),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "installing the pinned Allure" in done.stdout
        assert "Allure HTML report:" in done.stdout, done.stdout[-2000:]
        assert list((tmp_path / "with-report").glob("*/report/index.html"))
        assert list(cache.glob("allure-*/node_modules/.bin/allure"))
