"""Waivers: checked before anything moves; a covered failure is WAIVED, never PASSED."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.evidence.allure import CATEGORIES
from harness.evidence.compliance import Compliance, failures_all_waived
from harness.evidence.manifest import read_records, write_manifest
from harness.evidence.records import EvidenceWriter
from harness.evidence.waivers import load_waivers, mark_allure_results, waived_claim_verdicts
from tests.evidence.test_evidence import make_evidence

TODAY = date(2026, 11, 30)
GOOD = """\
waivers:
  - claim: QM-03
    justification: Known defect KB-123 in the storage firmware; fix scheduled.
    approved_by: Jane Doe (CAB-2026-117)
    expires: 2027-03-31
"""


def write(tmp_path: Path, text: str, name: str = "waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def make_failing_run(run_dir: Path) -> None:
    writer = EvidenceWriter(run_dir)
    writer.write(make_evidence(), attach=False)
    writer.write(
        make_evidence(claim="QM-03", verdict="failed", failure="two owners", vms=["vm-a"]),
        attach=False,
    )
    writer.write(make_evidence(claim="QM-03", vms=["vm-b"]), attach=False)
    writer.write(
        make_evidence(claim="QM-13", verdict="broken", failure="timeout", vms=["vm-a"]),
        attach=False,
    )


def test_failed_claim_becomes_waived_never_passed(tmp_path: Path) -> None:
    make_failing_run(tmp_path)
    comp = Compliance(waivers=load_waivers(write(tmp_path, GOOD, "w.yaml"), today=TODAY))
    verdicts = comp.claim_verdicts(tmp_path)
    assert verdicts == {"QM-02": "passed", "QM-03": "waived", "QM-13": "broken"}
    records = read_records(tmp_path)
    waived = [r for r in records if r.get("waiver")]
    assert len(waived) == 1 and waived[0]["verdict"] == "failed"
    assert waived[0]["waiver"]["approved_by"] == "Jane Doe (CAB-2026-117)"
    # The waiver file in use is kept with the run, and the manifest covers it.
    assert (tmp_path / "waivers.yaml").read_text(encoding="utf-8") == GOOD
    doc = json.loads(write_manifest(tmp_path, "20261127T231500Z-3f9a", {}).read_text())
    assert "waivers.yaml" in {f["path"] for f in doc["files"]}


def test_without_waivers_the_claim_fails(tmp_path: Path) -> None:
    make_failing_run(tmp_path)
    assert Compliance().claim_verdicts(tmp_path)["QM-03"] == "failed"


def test_broken_is_not_waivable(tmp_path: Path) -> None:
    make_failing_run(tmp_path)
    text = GOOD.replace("QM-03", "QM-13")
    verdicts = Compliance(waivers=load_waivers(write(tmp_path, text, "w.yaml"), TODAY))
    assert verdicts.claim_verdicts(tmp_path)["QM-13"] == "broken"


@pytest.mark.parametrize(
    ("scope", "waived"),
    [("    vm: VM-A\n", True), ("    vm: vm-b\n", False), ("    scenario: other\n", False)],
)
def test_scope_by_vm_or_scenario(tmp_path: Path, scope: str, waived: bool) -> None:
    make_failing_run(tmp_path)
    waivers = load_waivers(write(tmp_path, GOOD + scope, "w.yaml"), TODAY)
    verdict = Compliance(waivers=waivers).claim_verdicts(tmp_path)["QM-03"]
    assert verdict == ("waived" if waived else "failed")


def test_claim_verdict_order() -> None:
    rows = [
        {"claim": "QM-01", "verdict": "failed", "waiver": {"x": 1}},
        {"claim": "QM-01", "verdict": "passed"},
        {"claim": "QM-02", "verdict": "failed", "waiver": {"x": 1}},
        {"claim": "QM-02", "verdict": "failed"},
        {"claim": "QM-03", "verdict": "skipped"},
        {"claim": "QM-03", "verdict": "failed", "waiver": {"x": 1}},
    ]
    assert waived_claim_verdicts(rows) == {"QM-01": "waived", "QM-02": "failed", "QM-03": "waived"}


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        (GOOD.replace("2027-03-31", "2027-02-30"), "$.waivers[0].expires", "not a calendar date"),
        (GOOD.replace("2027-03-31", "31/03/2027"), "$.waivers[0].expires", "does not match"),
        (GOOD.replace("2027-03-31", "2026-11-29"), "$.waivers[0].expires", "expired on 2026-11-29"),
        (GOOD.replace("QM-03", "QM-99"), "$.waivers[0].claim", "unknown claim 'QM-99'"),
        (GOOD.replace("QM-03", "QM-3"), "$.waivers[0].claim", "does not match"),
        (
            GOOD.replace("Known defect KB-123 in the storage firmware; fix scheduled.", '"  "'),
            "$.waivers[0].justification",
            "does not match",
        ),
        (
            GOOD.replace(
                "    justification: Known defect KB-123 in the storage firmware; fix scheduled.\n",
                "",
            ),
            "$.waivers[0]",
            "'justification' is a required property",
        ),
        (GOOD + "    colour: red\n", "$.waivers[0]", "colour"),
        (GOOD + "    expires: 2027-01-01\n", "line 6", "duplicate key 'expires'"),
    ],
)
def test_bad_waiver_file(tmp_path: Path, text: str, where: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_waivers(path, today=TODAY)
    assert err.value.source == str(path)
    assert where in err.value.location and needle in err.value.reason


def test_waiver_valid_through_its_expiry_day(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("2027-03-31", "2026-11-30"))
    assert load_waivers(path, today=TODAY).waivers[0].expires == TODAY


def test_bad_waivers_stop_the_run_before_anything_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, GOOD.replace("2027-03-31", "2020-01-01"))
    assert main(["run", "--target", "lab+sim", "--waivers", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: $.waivers[0].expires: waiver expired on 2020-01-01" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_allure_result_gets_its_own_category(tmp_path: Path) -> None:
    make_failing_run(tmp_path)
    comp = Compliance(waivers=load_waivers(write(tmp_path, GOOD, "w.yaml"), TODAY))
    comp.claim_verdicts(tmp_path)
    results = tmp_path / "allure-results"
    results.mkdir()
    labels = [{"name": "story", "value": "QM-03 Single link location"}]
    scenario = "Saved state lands on a Cluster Shared Volume"
    params = [{"name": "vm", "value": "vm-small"}, {"name": "state", "value": "Running"}]
    failed = {"name": scenario, "status": "failed", "labels": labels, "parameters": params}
    failed["statusDetails"] = {"message": "AssertionError: two owners"}
    (results / "a-result.json").write_text(json.dumps(failed), encoding="utf-8")
    other = dict(failed, labels=[{"name": "story", "value": "QM-13 Registry"}])
    (results / "b-result.json").write_text(json.dumps(other), encoding="utf-8")
    assert mark_allure_results(results, read_records(tmp_path)) == 1
    marked = json.loads((results / "a-result.json").read_text(encoding="utf-8"))
    message = marked["statusDetails"]["message"]
    assert message.startswith("WAIVED: Known defect KB-123") and "two owners" in message
    assert {"name": "tag", "value": "waived"} in marked["labels"]
    untouched = json.loads((results / "b-result.json").read_text(encoding="utf-8"))
    assert untouched["statusDetails"]["message"] == "AssertionError: two owners"
    # The waived category comes first (first match wins) and matches only WAIVED messages.
    first = CATEGORIES[0]
    assert first["name"] == "Waived: approved exception"
    import re

    assert re.fullmatch(str(first["messageRegex"]).replace("(?s)", ""), message, re.S)
    assert not re.fullmatch(str(first["messageRegex"]).replace("(?s)", ""), "AssertionError", re.S)


def test_exit_code_counts_only_waived_failures(tmp_path: Path) -> None:
    make_failing_run(tmp_path)
    comp = Compliance(waivers=load_waivers(write(tmp_path, GOOD, "w.yaml"), TODAY))
    comp.claim_verdicts(tmp_path)
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite failures="1" errors="0"/></testsuites>', "utf-8")
    # The broken QM-13 record is not waived: the run is not clean.
    assert not failures_all_waived(tmp_path)
    for path in (tmp_path / "evidence").glob("*QM-13*"):
        path.unlink()
    assert failures_all_waived(tmp_path)
    # A teardown that could not put a VM back settles its scenario's record as BROKEN: not
    # covered by any waiver.
    record = next((tmp_path / "evidence").glob("*.json"))
    doc = json.loads(record.read_text(encoding="utf-8"))
    doc.update(claim="QM-05", verdict="broken", waiver=None)
    (tmp_path / "evidence" / "teardown-QM-05.json").write_text(json.dumps(doc), "utf-8")
    assert not failures_all_waived(tmp_path)
