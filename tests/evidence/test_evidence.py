"""Evidence records: schema, redaction, atomic writes, run ids."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.drivers.base import ProbeRecord
from harness.errors import HarnessError
from harness.evidence import records as evidence
from harness.evidence.records import (
    EvidenceError,
    EvidenceWriter,
    ScenarioEvidence,
    TargetIdentity,
    new_run_id,
    redact_document,
    validate,
)
from harness.evidence.verdicts import classify, scenario_verdict
from harness.redact import MASK, clear_secrets, register_secret

SHA = "a" * 64


@pytest.fixture(autouse=True)
def _no_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def make_target() -> TargetIdentity:
    return TargetIdentity(
        spec="lab+inproc",
        kind="lab",
        cluster="LABCLUSTER",
        nodes=[{"name": "NODE1", "os_build": "20348"}, {"name": "NODE2", "os_build": None}],
        harness_version="0.1.0",
    )


def make_evidence(**overrides: Any) -> ScenarioEvidence:
    ev = ScenarioEvidence(
        run_id="20261127T231500Z-3f9a",
        scenario="Saved state lands on a Cluster Shared Volume",
        feature="Saved state on shared storage",
        claim="QM-02",
        target=make_target(),
        tags=["claim:QM-02", "core"],
        params={"vm": "vm-small", "state": "Running"},
        vms=["vm-small"],
    )
    ev.observe("before", "owner", "NODE1")
    ev.observe("during", "vm_state", "Saving")
    ev.observe("during", "vm_state", "Saved")
    ev.observe("after", "owner", "NODE2")
    ev.measure("downtime_s[vm-small]", 31.5, "s", truth=30.0)
    ev.threshold("max_downtime_s", 120, "s", "default")
    ev.record_probe(
        ProbeRecord(
            probe="vm_details",
            node="NODE1",
            params={"vm_id": "0f0e"},
            started_utc="2026-11-27T23:15:00.123456Z",
            duration_s=0.02,
            output_sha256=SHA,
            document={"found": True},
        )
    )
    ev.finish("passed")
    for key, value in overrides.items():
        setattr(ev, key, value)
    return ev


def test_full_record_is_valid_and_complete() -> None:
    doc = make_evidence().to_dict()
    validate("evidence", doc, "test")
    assert doc["observations"]["during"][1]["value"] == "Saved"
    assert doc["measurements"]["downtime_s[vm-small]"]["error"] == pytest.approx(1.5)
    assert doc["thresholds"]["max_downtime_s"]["source"] == "default"
    assert doc["target"]["nodes"][1] == {"name": "NODE2", "os_build": None}
    # The transcript keeps the hash but not the parsed document.
    assert doc["transcript"][0]["output_sha256"] == SHA
    assert "document" not in doc["transcript"][0]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("claim"), "claim"),
        (lambda d: d.update(claim="QM-2"), "claim"),
        (lambda d: d.update(verdict="error"), "verdict"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["target"].update(kind="cloud"), "kind"),
        (lambda d: d["transcript"][0].update(document={}), "document"),
        (lambda d: d["thresholds"]["max_downtime_s"].update(source="guess"), "source"),
        (lambda d: d.update(verdict="failed", failure=None), "failure"),
        (lambda d: d.update(started_utc="2026-11-27 23:15:00"), "started_utc"),
        (lambda d: d.update(run_id="run 1"), "run_id"),
    ],
)
def test_schema_rejects(mutate: Any, where: str) -> None:
    doc = make_evidence().to_dict()
    mutate(doc)
    with pytest.raises(EvidenceError) as info:
        validate("evidence", doc, "test")
    assert isinstance(info.value, HarnessError)
    assert where in str(info.value)


def test_measure_rejects_nan_and_unknown_fields() -> None:
    ev = make_evidence()
    with pytest.raises(ValueError, match="finite"):
        ev.measure("x", float("nan"), "s")
    with pytest.raises(ValueError, match="unknown"):
        ev.measure("x", 1.0, "s", truthh=1.0)
    with pytest.raises(ValueError, match="phase"):
        ev.observe("later", "x", 1)  # type: ignore[arg-type]


def test_classify_tells_failed_from_broken() -> None:
    assert classify(None) == "passed"
    assert classify(AssertionError("claim")) == "failed"
    assert classify(HarnessError("probe timeout")) == "broken"
    assert classify(KeyError("x")) == "broken"
    with pytest.raises(pytest.skip.Exception) as skip:
        pytest.skip("not here")
    assert classify(skip.value) == "skipped"
    with pytest.raises(pytest.fail.Exception) as fail:
        pytest.fail("explicit")
    assert classify(fail.value) == "broken"
    # Outside the scenario itself (setup, teardown) even an assertion is no claim verdict.
    assert classify(AssertionError("restore"), "teardown") == "broken"
    assert classify(AssertionError("fixture"), "setup") == "broken"


@pytest.mark.parametrize(
    ("phases", "verdict"),
    [
        ({"setup": "passed", "call": "passed", "teardown": "passed"}, "passed"),
        ({"setup": "passed", "call": "failed", "teardown": "broken"}, "failed"),
        ({"setup": "passed", "call": "passed", "teardown": "broken"}, "broken"),
        ({"setup": "passed", "call": "skipped", "teardown": "passed"}, "skipped"),
        ({"setup": "skipped", "teardown": "passed"}, "skipped"),
        ({"setup": "broken", "teardown": "passed"}, "broken"),
        ({"setup": "passed", "call": "skipped", "teardown": "broken"}, "broken"),
    ],
)
def test_scenario_verdict_over_phases(phases: dict[str, str], verdict: str) -> None:
    assert scenario_verdict(phases) == verdict


def test_redaction_of_params_and_messages(tmp_path: Path) -> None:
    register_secret("S3cr3t-registered")
    ev = make_evidence(
        params={"vm": "vm-small", "admin_password": "hunter22", "ApiToken": "tok-123"},
        verdict="broken",
        failure="logon as admin with S3cr3t-registered failed; retried with hunter22",
    )
    ev.observe("after", "note", "url https://u:S3cr3t-registered@node1")
    path = EvidenceWriter(tmp_path).write(ev, attach=False)
    text = path.read_text(encoding="utf-8")
    for secret in ("S3cr3t-registered", "hunter22", "tok-123"):
        assert secret not in text
    doc = json.loads(text)
    assert doc["params"]["admin_password"] == MASK
    assert doc["params"]["ApiToken"] == MASK
    assert doc["params"]["vm"] == "vm-small"
    assert doc["failure"].count(MASK) == 2


def test_redact_document_leaves_input_alone() -> None:
    doc = {"params": {"password": "abcdef"}, "list": ["abcdef"]}
    before = copy.deepcopy(doc)
    out = redact_document(doc)
    assert doc == before
    assert out == {"params": {"password": MASK}, "list": [MASK]}


def test_write_names_and_content(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path)
    first = writer.write(make_evidence(), attach=False)
    second = writer.write(make_evidence(), attach=False)
    assert first.parent == tmp_path / "evidence"
    assert re.fullmatch(
        r"001-QM-02-saved-state-lands-on-a-cluster-shared-volume-(gw[0-9]+-)?[0-9a-f]{6}\.json",
        first.name,
    )
    assert second.name.startswith("002-QM-02-")
    assert json.loads(first.read_text(encoding="utf-8"))["claim"] == "QM-02"


def test_write_includes_xdist_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    path = EvidenceWriter(tmp_path).write(make_evidence(), attach=False)
    assert "-gw1-" in path.name


def test_invalid_record_leaves_no_file(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path)
    with pytest.raises(EvidenceError, match="failure"):
        writer.write(make_evidence(verdict="failed", failure=None), attach=False)
    with pytest.raises(EvidenceError, match="claim"):
        writer.write(make_evidence(claim="QM-2"), attach=False)
    assert not list(tmp_path.rglob("*.json"))


def test_unserialisable_record_leaves_no_file(tmp_path: Path) -> None:
    ev = make_evidence()
    ev.observe("after", "when", datetime.now(UTC))
    with pytest.raises(EvidenceError, match="JSON"):
        EvidenceWriter(tmp_path).write(ev, attach=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_atomic_write_keeps_old_file_and_no_temp_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.json"
    target.write_bytes(b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        evidence.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_attach_goes_to_allure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(evidence, "_attach_json", lambda path, name: seen.append((path, name)))
    path = EvidenceWriter(tmp_path).write(make_evidence())
    assert seen == [(path, "evidence QM-02")]


def test_run_ids_sortable_unique_and_safe() -> None:
    start = datetime(2026, 11, 27, 23, 15, tzinfo=UTC)
    ids = [new_run_id(start + timedelta(seconds=s)) for s in (0, 1, 59, 3600, 86400)]
    assert ids == sorted(ids)
    assert ids[0].startswith("20261127T231500Z-")
    same_second = {new_run_id(start) for _ in range(300)}
    assert len(same_second) == 300
    for run_id in ids:
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{4}", run_id)
    paris = timezone(timedelta(hours=1))
    assert new_run_id(datetime(2026, 11, 28, 0, 15, tzinfo=paris)).startswith("20261127T231500Z-")


def test_shared_validator_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from harness.errors import InputError

    calls: list[tuple[str, str]] = []

    def shared(stem: str, doc: dict[str, Any], source: str) -> None:
        calls.append((stem, source))
        raise InputError(source, "$.claim", "does not match")

    schemas = importlib.import_module("harness.schemas")
    monkeypatch.setattr(schemas, "validate_document", shared, raising=False)
    with pytest.raises(EvidenceError, match=r"\$\.claim: does not match"):
        validate("evidence", make_evidence().to_dict(), "record x")
    assert calls == [("evidence", "record x")]
