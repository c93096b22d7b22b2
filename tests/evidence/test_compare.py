"""`qmaudit compare`: verdict changes, thresholds, manifest checks, refusals (exit codes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.evidence.compare import compare_entries, parse_thresholds
from harness.evidence.manifest import write_manifest

RA, RB = "20261129T010000Z-000a", "20261130T010000Z-000b"
TARGET = {
    "spec": "lab+sim",
    "kind": "lab",
    "cluster": "QMLAB",
    "nodes": [{"name": "N1", "os_build": "20348"}],
    "harness_version": "0.1.0",
}


def summary(claims: dict[str, str], measurements: dict[str, float]) -> dict[str, Any]:
    scenarios = {f"{c} s": v for c, v in claims.items()}
    return {"run_id": "x", "claims": claims, "scenarios": scenarios, "measurements": measurements}


def test_claim_flip_and_measurement_beyond_threshold_are_regressions() -> None:
    a = summary({"QM-09": "passed", "QM-02": "failed"}, {"downtime_per_gib": 2.0})
    b = summary({"QM-09": "failed", "QM-02": "passed"}, {"downtime_per_gib": 2.7})
    cmp = compare_entries(a, b, parse_thresholds([]))
    assert [c["claim"] for c in cmp.claims if c["regression"]] == ["QM-09"]
    assert [c["claim"] for c in cmp.claims if not c["regression"]] == ["QM-02"]
    assert cmp.measurements[0]["regression"] and cmp.measurements[0]["change"] == pytest.approx(
        0.35
    )
    assert any("downtime_per_gib" in r for r in cmp.regressions)


def test_within_threshold_floor_and_improvement_are_not_regressions() -> None:
    a = summary({}, {"downtime_per_gib": 2.0, "downtime_intercept": 0.1, "clock_lag": 10.0})
    b = summary({}, {"downtime_per_gib": 2.3, "downtime_intercept": 0.4, "clock_lag": 2.0})
    cmp = compare_entries(a, b, parse_thresholds([]))
    assert cmp.regressions == []
    moved = {m["name"]: m["moved"] for m in cmp.measurements}
    # +15% < 20%; +300% of 0.1 s is under the 0.5 s floor; the lag fell (better).
    assert moved == {"downtime_per_gib": False, "downtime_intercept": False, "clock_lag": True}


def test_threshold_override_changes_the_verdict() -> None:
    a = summary({}, {"downtime_per_gib": 2.0})
    b = summary({}, {"downtime_per_gib": 2.3})
    assert compare_entries(a, b, parse_thresholds(["downtime_per_gib=0.1"])).regressions


def test_lower_fit_quality_is_worse() -> None:
    a, b = summary({}, {"fit_quality": 0.99}), summary({}, {"fit_quality": 0.80})
    assert compare_entries(a, b, parse_thresholds([])).regressions


def test_scenarios_new_and_removed() -> None:
    a = {"run_id": "a", "scenarios": {"QM-01 x": "passed", "QM-02 y": "passed"}}
    b = {"run_id": "b", "scenarios": {"QM-02 y": "passed", "QM-03 z": "passed"}}
    cmp = compare_entries(a, b, parse_thresholds([]))
    assert cmp.new_scenarios == ["QM-03 z"] and cmp.removed_scenarios == ["QM-01 x"]


@pytest.mark.parametrize("bad", ["nope=0.2", "downtime_per_gib", "downtime_per_gib=-1"])
def test_bad_threshold(bad: str) -> None:
    with pytest.raises(InputError):
        parse_thresholds([bad])


def make_run(
    root: Path, run_id: str, verdict: str, slope: float, target: dict | None = None
) -> Path:
    run_dir = root / run_id
    (run_dir / "evidence").mkdir(parents=True)
    record = {
        "run_id": run_id,
        "claim": "QM-09",
        "scenario": "downtime",
        "params": {},
        "target": target or TARGET,
        "verdict": verdict,
        "measurements": {"downtime per GiB (fit slope)": {"value": slope, "unit": "s/GiB"}},
    }
    (run_dir / "evidence" / "001-QM-09.json").write_text(json.dumps(record))
    write_manifest(run_dir, run_id, {"target_spec": "lab+sim"})
    return run_dir


def test_cli_compare_regression_exit_1_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "failed", 3.0)
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "REGRESSION claim QM-09: passed -> failed" in text
    assert "REGRESSION measurement downtime_per_gib" in text
    doc = json.loads((out / "compare.json").read_text())
    assert doc["regression"] is True and doc["a"]["run_id"] == RA
    assert "| QM-09 | passed | failed | yes |" in (out / "compare.md").read_text()
    assert main(["compare", str(a), str(a), "--out", str(out)]) == 0


def test_cli_compare_different_targets_refused_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "passed", 2.0, {**TARGET, "cluster": "PRODCLU1", "kind": "cluster"})
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "different targets" in err and "--force" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()
    assert main(["compare", str(a), str(b), "--force", "--out", str(tmp_path / "c")]) == 0


def test_cli_compare_manifest_mismatch_and_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "passed", 2.0)
    record = b / "evidence" / "001-QM-09.json"
    record.write_text(record.read_text().replace('"passed"', '"failed"'))
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "does not match the manifest" in err and "evidence/001-QM-09.json" in err
    (a / "manifest.json").unlink()
    assert main(["compare", str(a), str(b)]) == 2
    assert "no manifest" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nope"), str(b)]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_cli_compare_last_needs_two_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "--last", "--history", str(tmp_path / "h")]) == 2
    assert "fewer than two runs" in capsys.readouterr().err
