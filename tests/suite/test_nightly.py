"""Nightly regression end to end on the simulated lab: history over three runs (one with a
defect profile), compare --last, trend, one run folder under xdist, two clusters at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.evidence.allure import find_allure
from harness.lab.topology import DEFAULT_TOPOLOGY
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology

ROOT = Path(__file__).resolve().parents[2]
SELECTION = "QM-09 or QM-15"


def clean_env(cwd: Path) -> dict[str, str]:
    """This test process's environment without its own run id or xdist worker name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "QM_RUN_ID"))}
    return {**env, "QM_LOCK_DIR": str(cwd / "locks")}


def qmaudit(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = clean_env(cwd)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def lab_named(folder: Path, name: str) -> Path:
    """The default lab topology under another cluster name (so its lock is its own)."""
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8").replace("name: QMLAB", f"name: {name}", 1)
    path = folder / f"{name.lower()}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_folders(reports: Path) -> list[Path]:
    return sorted(p for p in reports.iterdir() if p.is_dir() and p.name[:1].isdigit())


@pytest.mark.slow
def test_three_nights_history_compare_trend(tmp_path: Path) -> None:
    defect = write_profiled_topology(
        tmp_path, [load_profile(PROFILES_DIR / "storage-slower-than-declared.yaml")]
    )
    report = [] if find_allure() else ["--no-report"]
    for target, expected in (("lab+sim", 0), ("lab+sim", 0), (f"lab+sim:{defect}", 1)):
        done = qmaudit(tmp_path, "run", "--target", target, "-m", SELECTION, *report)
        assert done.returncode == expected, done.stdout[-3000:] + done.stderr[-3000:]
    runs = run_folders(tmp_path / "reports")
    assert len(runs) == 3
    index = (tmp_path / "reports" / "history" / "index.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in index] == [r.name for r in runs]
    newest = runs[-1]
    for name in ("trend-downtime.png", "trend-clock-network.png", "trend-verdicts.png"):
        assert (newest / "trend" / name).read_bytes()[:4] == b"\x89PNG"
    globals_files = list((newest / "allure-results").glob("*-globals.json"))
    assert len(globals_files) == 1
    attached = json.loads(globals_files[0].read_text())["attachments"]
    assert {a["name"] for a in attached} == {
        "trend-downtime",
        "trend-clock-network",
        "trend-verdicts",
    }
    if report == []:
        # Allure 3 kept one history line per report and put the history into the newest one.
        allure_history = tmp_path / "reports" / "history" / "allure-history.jsonl"
        assert len(allure_history.read_text().splitlines()) == 3
        assert (newest / "report" / "index.html").stat().st_size > 10000

    done = qmaudit(tmp_path, "compare", "--last")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION claim QM-09: passed -> failed" in done.stdout
    assert "REGRESSION measurement downtime_per_gib" in done.stdout
    result = json.loads((newest / "compare" / "compare.json").read_text())
    assert result["regression"] and result["b"]["run_id"] == newest.name

    done = qmaudit(tmp_path, "compare", str(runs[0]), str(runs[1]))
    assert done.returncode == 0, done.stdout + done.stderr

    done = qmaudit(tmp_path, "trend", "--runs", "3", "--out", "trend-out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "trend-out" / "trend-verdicts.png").is_file()
    # The defect run used another topology: a verdict change there is not flakiness.
    assert "no flaky claim" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("how", ["pytest", "qmaudit"])
def test_xdist_workers_write_one_run(tmp_path: Path, how: str) -> None:
    if how == "pytest":
        args = [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "features"),
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-q",
            "--qm-target=lab+sim",
            "-m",
            "core",
            f"--alluredir={tmp_path / 'allure'}",
        ]
    else:
        args = [sys.executable, "-m", "harness.cli", "run", "--target", "lab+sim"]
        args += ["-m", "core", "-n", "2", "--no-report", "--no-history"]
    env = clean_env(tmp_path)
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = run_folders(tmp_path / "reports")
    assert len(runs) == 1, runs
    run = runs[0]
    records = [json.loads(p.read_text()) for p in (run / "evidence").glob("*.json")]
    assert records and {r["run_id"] for r in records} == {run.name}
    workers = {p.name.rsplit("-", 2)[-2] for p in (run / "evidence").glob("*.json")}
    assert workers == {"gw0", "gw1"}, "both workers wrote evidence into the one run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_id"] == run.name
    assert manifest["summary"]["evidence_records"] == len(records)
    journals = list(run.rglob("journal*.jsonl"))
    assert [j.name for j in journals] == ["journal.jsonl"]
    results_dir = tmp_path / "allure" if how == "pytest" else run / "allure-results"
    results = [json.loads(p.read_text()) for p in results_dir.glob("*-result.json")]
    names = [r["fullName"] for r in results]
    assert len(names) == len(records) and len(set(names)) == len(names)


@pytest.mark.slow
def test_two_clusters_in_parallel(tmp_path: Path) -> None:
    one, two = lab_named(tmp_path, "NIGHTA"), lab_named(tmp_path, "NIGHTB")
    done = qmaudit(
        tmp_path,
        "run",
        "--target",
        f"lab+sim:{one}",
        "--target",
        f"lab+sim:{two}",
        "-m",
        "core",
        "--no-report",
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    batches = list((tmp_path / "reports" / "batches").glob("*/index.json"))
    assert len(batches) == 1
    index = json.loads(batches[0].read_text())
    assert [r["exit_code"] for r in index["runs"]] == [0, 0] and index["exit_code"] == 0
    clusters = []
    for run in index["runs"]:
        manifest = json.loads((Path(run["run_dir"]) / "manifest.json").read_text())
        clusters.append(manifest["target"]["cluster"])
    assert clusters == ["NIGHTA", "NIGHTB"]
    assert f"[lab+sim:{one}]" in done.stdout and f"[lab+sim:{two}]" in done.stdout
    # Both audits ran at the same time: each one's first scenario line precedes the other's end.
    starts = [json.loads(p.read_text())["started_utc"] for p in sorted_evidence(index, 0)]
    ends = [json.loads(p.read_text())["finished_utc"] for p in sorted_evidence(index, 1)]
    assert min(starts) < max(ends)


def sorted_evidence(index: dict, i: int) -> list[Path]:
    return sorted((Path(index["runs"][i]["run_dir"]) / "evidence").glob("*.json"))


def test_several_targets_worst_exit_code(tmp_path: Path) -> None:
    defect = write_profiled_topology(
        tmp_path, [load_profile(PROFILES_DIR / "storage-slower-than-declared.yaml")]
    )
    clean = lab_named(tmp_path, "NIGHTC")
    done = qmaudit(
        tmp_path,
        "run",
        "--target",
        f"lab+sim:{clean}",
        "--target",
        f"lab+sim:{defect}",
        "-m",
        "QM-09",
        "--no-report",
        "--no-history",
    )
    assert done.returncode == 1, done.stdout[-3000:]
    index = json.loads(next((tmp_path / "reports" / "batches").glob("*/index.json")).read_text())
    assert sorted(r["exit_code"] for r in index["runs"]) == [0, 1]


def test_several_targets_bad_input_exit_2(tmp_path: Path) -> None:
    done = qmaudit(tmp_path, "run", "--target", "lab+sim", "--target", "nonsense")
    assert done.returncode == 2 and "unknown target" in done.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--run-id", "tonight"], "a run id looks like"),
        (["--history-keep", "0"], "must be at least 1"),
        (
            ["--target", "lab+sim", "--target", "lab", "--run-id", "20261130T010000Z-00aa"],
            "several",
        ),
    ],
)
def test_run_nightly_options_bad_input(args: list[str], needle: str, tmp_path: Path) -> None:
    done = qmaudit(tmp_path, "run", *args)
    assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()
