"""The run manifest: every file hashed, summary from the evidence, schema-checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.evidence.manifest import write_manifest
from harness.evidence.records import EvidenceError, EvidenceWriter, validate
from tests.evidence.test_evidence import make_evidence, make_target


def make_run(run_dir: Path) -> None:
    writer = EvidenceWriter(run_dir)
    writer.write(make_evidence(), attach=False)
    writer.write(make_evidence(claim="QM-03", verdict="failed", failure="two owners"), attach=False)
    writer.write(make_evidence(claim="QM-03"), attach=False)
    writer.write(make_evidence(claim="QM-13", verdict="broken", failure="timeout"), attach=False)
    (run_dir / "junit.xml").write_text("<testsuites/>", encoding="utf-8")
    results = run_dir / "allure-results"
    results.mkdir()
    (results / "abc-result.json").write_text('{"name": "x"}', encoding="utf-8")
    (results / "plot.png").write_bytes(bytes(range(256)) * 10)
    report = run_dir / "report"
    report.mkdir()
    (report / "index.html").write_text("<html></html>", encoding="utf-8")


def test_manifest_hashes_match_files(tmp_path: Path) -> None:
    make_run(tmp_path)
    path = write_manifest(tmp_path, "20261127T231500Z-3f9a", {"pytest_exit": 1})
    doc = json.loads(path.read_text(encoding="utf-8"))
    validate("manifest", doc, "test")
    listed = {f["path"]: f for f in doc["files"]}
    on_disk = {
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert set(listed) == on_disk
    assert "junit.xml" in listed and "allure-results/plot.png" in listed
    # The HTML report is what an auditor keeps: it is covered too.
    assert "report/index.html" in listed
    for rel, entry in listed.items():
        data = (tmp_path / rel).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert doc["excluded"] == ["manifest.json", "manifest.json.sig", "manifest.json.p7s"]


def test_manifest_summary_and_target(tmp_path: Path) -> None:
    make_run(tmp_path)
    doc = json.loads(write_manifest(tmp_path, "20261127T231500Z-3f9a", {}).read_text("utf-8"))
    assert doc["summary"]["evidence_records"] == 4
    assert doc["summary"]["verdicts"] == {"passed": 2, "failed": 1, "broken": 1, "skipped": 0}
    # A claim with one failing scenario is violated even when another scenario passed.
    assert doc["summary"]["claims"] == {"QM-02": "passed", "QM-03": "failed", "QM-13": "broken"}
    assert doc["target"]["cluster"] == "LABCLUSTER"
    assert doc["run_id"] == "20261127T231500Z-3f9a"


def test_manifest_explicit_target_and_empty_run(tmp_path: Path) -> None:
    target = make_target()
    target.cluster = "PRODCLUSTER"
    doc = json.loads(write_manifest(tmp_path, "20261127T231500Z-3f9a", {}, target).read_text())
    assert doc["target"]["cluster"] == "PRODCLUSTER"
    assert doc["files"] == []
    assert doc["summary"]["evidence_records"] == 0
    assert (
        json.loads(write_manifest(tmp_path, "20261127T231500Z-3f9a", {}).read_text())["target"]
        is None
    )


def test_manifest_redacts_extra(tmp_path: Path) -> None:
    extra = {"inventory": "prod.yaml", "winrm_password": "pa55word!"}
    text = write_manifest(tmp_path, "20261127T231500Z-3f9a", extra).read_text("utf-8")
    assert "pa55word!" not in text
    assert "prod.yaml" in text


def test_manifest_bad_run_id_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="run_id"):
        write_manifest(tmp_path, "../../etc", {})
    assert not (tmp_path / "manifest.json").exists()


def test_manifest_unreadable_evidence_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "001-bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EvidenceError, match=r"001-bad\.json"):
        write_manifest(tmp_path, "20261127T231500Z-3f9a", {})
