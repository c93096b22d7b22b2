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
    from harness.targets.registry import is_inventory_spec

    assert is_inventory_spec(spec) is inventory
