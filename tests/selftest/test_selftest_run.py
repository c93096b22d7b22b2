"""`qmaudit selftest` end to end on small selections: exit codes, matrix files, combinations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.selftest.matrix import run_selftest
from harness.selftest.profiles import PROFILES_DIR


@pytest.mark.slow
def test_combined_profiles_match_the_union(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        str(PROFILES_DIR / "kvp-host-name-not-updated.yaml"),
        str(PROFILES_DIR / "cluster-disk-not-transferred.yaml"),
    ]
    code = run_selftest(combine=files, out=tmp_path)
    doc = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))
    assert code == 0, capsys.readouterr().out
    clean, combined = doc["rows"]
    assert clean["kind"] == "clean" and clean["ok"] and clean["scenarios"]["failed"] == 0
    assert combined["kind"] == "combined"
    assert combined["failed"] == ["QM-05", "QM-14"] and combined["unexpected"] == []
    assert doc["figures"]["defects_detected"] == doc["figures"]["defects_total"] == 2
    assert (tmp_path / "matrix.md").read_text(encoding="utf-8").startswith("| profile |")


@pytest.mark.slow
def test_undeclared_breakage_fails_the_selftest(tmp_path: Path) -> None:
    # files_stay off also makes the target miss the VM's folder (QM-12); a profile that declares
    # only QM-04 must make the selftest fail with QM-12 as a false alarm.
    profile = tmp_path / "files.yaml"
    profile.write_text(
        "name: files-moved-partial\ndescription: files moved\nbreaks: [QM-04]\n"
        "rules_off: [{rule: files_stay}]\n",
        encoding="utf-8",
    )
    code = run_selftest(combine=[str(profile)], out=tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "matrix.json").read_text(encoding="utf-8"))
    assert code == 1
    row = doc["rows"][1]
    # QM-17 too: the multi-VM scenario judges each VM's files on every move; QM-03 ends BROKEN:
    # the round trip's second leg broke the files invariant before its own check ran.
    assert row["failed"] == ["QM-04", "QM-12", "QM-17"]
    assert row["unexpected"] == ["QM-03", "QM-12", "QM-17"]
    assert row["missed"] == []
