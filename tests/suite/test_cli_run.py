"""`qmaudit run` input checks and the claim table's verdict rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.suite.runner import claim_verdicts


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("nonsense", "unknown target"),
        ("lab:/no/such/file.yaml", "/no/such/file.yaml"),
        ("inventory.yaml", "file not found"),
    ],
)
def test_bad_target_exit_2(target: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", target]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_bad_speed_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--lab-speed", "0"]) == 2
    assert "--lab-speed" in capsys.readouterr().err


def test_claim_verdict_is_the_worst(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    rows = [
        ("QM-01", "passed"),
        ("QM-01", "failed"),
        ("QM-02", "broken"),
        ("QM-02", "passed"),
        ("QM-03", "skipped"),
        ("QM-03", "passed"),
    ]
    for i, (claim, verdict) in enumerate(rows):
        (evidence / f"{i}.json").write_text(json.dumps({"claim": claim, "verdict": verdict}))
    assert claim_verdicts(tmp_path) == {"QM-01": "failed", "QM-02": "broken", "QM-03": "passed"}


def test_progress_shows_claim_and_title_not_pytest_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--target", "lab+sim", "-m", "QM-02", "--no-report"]) == 0
    out = capfd.readouterr().out
    assert "qmaudit: 4 scenarios selected" in out
    line = "PASSED  QM-02 Saved state is written to shared storage (CSV, configuration version 9.0)"
    assert line in out
    assert "test_" not in out and "[CSV" not in out and "<storage>" not in out
    assert main(["run", "--target", "lab+sim", "-k", "Cluster and Disk", "-m", "QM-02"]) == 0
    assert "qmaudit: 1 scenario selected" in capfd.readouterr().out


def test_error_prefix_is_printed_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.errors import HarnessError

    def fails(_args: object) -> int:
        raise HarnessError("qmaudit: error: the lab did not start")

    monkeypatch.setattr("harness.cli._cmd_recover", fails)
    assert main(["recover"]) == 1
    assert capsys.readouterr().err == "qmaudit: error: the lab did not start\n"
    assert main(["run", "--target", "nonsense"]) == 2
    error, last = capsys.readouterr().err.splitlines()
    assert error.count("qmaudit:") == 1 and error.count("error:") == 1
    assert last == "qmaudit: exit 2: bad input"


def test_plain_pytest_names_the_option_once() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "features", "--qm-target", "nonsense", "-p", "no:xdist"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4
    assert "--qm-target 'nonsense': unknown target" in done.stderr
    assert "--target:" not in done.stderr


@pytest.mark.parametrize(
    ("spec", "inventory"),
    [
        ("lab:my-lab.yaml", False),
        ("lab+sim:/tmp/t.yaml", False),
        ("lab+inproc:t.yml", False),
        ("prod.yaml", True),
        ("./lab.yaml", True),
    ],
)
def test_lab_topology_spec_is_not_an_inventory(spec: str, inventory: bool) -> None:
    from harness.targets.registry import parse_spec

    assert parse_spec(spec, check=False).is_inventory is inventory
