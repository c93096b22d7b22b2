"""`qmaudit trend`: flaky claims and the PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.evidence.history import History
from harness.evidence.trend import flaky_claims, write_trend


def run(run_id: str, verdict: str, version: str = "0.1.0", build: str = "20348") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "cluster": "QMLAB",
        "target_spec": "lab+sim",
        "harness_version": version,
        "cluster_build": build,
        "claims": {"QM-09": verdict, "QM-02": "passed"},
        "measurements": {"downtime_per_gib": 2.0, "clock_lag": 3.0},
    }


def test_flaky_only_when_nothing_known_changed() -> None:
    same = [run("r1", "passed"), run("r2", "failed"), run("r3", "passed")]
    assert list(flaky_claims(same)) == ["QM-09"]
    assert len(flaky_claims(same)["QM-09"]) == 2
    upgraded = [run("r1", "passed"), run("r2", "failed", build="26100")]
    assert flaky_claims(upgraded) == {}
    new_harness = [run("r1", "passed"), run("r2", "failed", version="0.2.0")]
    assert flaky_claims(new_harness) == {}
    other_topology = [run("r1", "passed"), {**run("r2", "failed"), "target_spec": "lab+sim:x"}]
    assert flaky_claims(other_topology) == {}


def test_plots_are_pngs(tmp_path: Path) -> None:
    plots, flaky = write_trend([run("r1", "passed"), run("r2", "failed")], tmp_path)
    assert [p.name for p in plots] == [
        "trend-downtime.png",
        "trend-clock-network.png",
        "trend-verdicts.png",
    ]
    for path in plots:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert "QM-09" in flaky and (tmp_path / "trend.json").is_file()


def test_cli_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = History(tmp_path / "h")
    for i, verdict in enumerate(["passed", "failed", "passed"]):
        history.append(run(f"r{i}", verdict))
    assert main(["trend", "--history", str(tmp_path / "h"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "FLAKY QM-09" in out and (tmp_path / "o" / "trend-verdicts.png").is_file()
    assert main(["trend", "--history", str(tmp_path / "h"), "--target", "OTHER"]) == 2
    assert main(["trend", "--history", str(tmp_path / "h"), "--runs", "1"]) == 2
