"""The auditor's summary: summary.json contents, summary.html offline in Chromium, controls."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.domain.claims import CLAIMS
from harness.errors import InputError
from harness.evidence.compliance import Compliance
from harness.evidence.offline import external_references
from harness.evidence.summary import (
    DEFAULT_TOPOLOGY,
    build_summary,
    load_controls,
    render_html,
    write_summary,
)
from harness.evidence.waivers import load_waivers
from tests.evidence.browser import find_chromium, load_offline
from tests.evidence.test_waivers import GOOD, TODAY, make_failing_run

CONTROLS = """\
controls:
  - id: BC-07
    title: Planned maintenance keeps services available
    claims: [QM-03, QM-10]
  - id: ITGC-12
    claims: [QM-13]
"""


def summary_doc(run_dir: Path, controls: str | None = None) -> dict[str, object]:
    make_failing_run(run_dir)
    waivers = run_dir.parent / "w.yaml"
    waivers.write_text(GOOD, encoding="utf-8")
    Compliance(waivers=load_waivers(waivers, TODAY)).claim_verdicts(run_dir)
    (run_dir / "downtime-vs-memory.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    control_list = None
    if controls is not None:
        path = run_dir.parent / "controls.yaml"
        path.write_text(controls, encoding="utf-8")
        control_list = load_controls(path)
    return build_summary(
        run_dir,
        run_id="20261127T231500Z-3f9a",
        target_spec="lab+inproc",
        started_utc="2026-11-27T23:15:00Z",
        finished_utc="2026-11-27T23:16:00Z",
        duration_s=60.0,
        signature="not signed at run time",
        controls=control_list,
    )


def test_summary_json_contents(tmp_path: Path) -> None:
    run = tmp_path / "run"
    doc = summary_doc(run)
    claims = {row["claim"]: row for row in doc["claims"]}  # type: ignore[attr-defined]
    assert list(claims) == CLAIMS
    assert claims["QM-02"]["verdict"] == "passed"
    assert claims["QM-03"]["verdict"] == "waived"
    assert claims["QM-13"]["verdict"] == "broken"
    assert claims["QM-01"]["verdict"] == "not run"
    evidence = claims["QM-03"]["evidence"]
    for ev in evidence:
        assert ev["sha256"] == hashlib.sha256((run / ev["file"]).read_bytes()).hexdigest()
    assert sorted(ev["verdict"] for ev in evidence) == ["passed", "waived"]
    assert claims["QM-03"]["waivers"][0]["approved_by"] == "Jane Doe (CAB-2026-117)"
    target = doc["target"]
    assert target["kind"] == "lab" and target["cluster"] == "LABCLUSTER"  # type: ignore[index]
    assert target["file"] == str(DEFAULT_TOPOLOGY)  # type: ignore[index]
    assert (
        target["file_sha256"]  # type: ignore[index]
        == hashlib.sha256(DEFAULT_TOPOLOGY.read_bytes()).hexdigest()
    )
    assert doc["waivers_applied"][0]["claim"] == "QM-03"  # type: ignore[index]
    assert doc["plot"]["file"] == "downtime-vs-memory.png"  # type: ignore[index]
    assert doc["claim_counts"]["waived"] == 1  # type: ignore[index]


def test_summary_html_shows_every_claim_and_fetches_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    doc = summary_doc(run)
    _json_path, html_path = write_summary(run, doc)
    html = html_path.read_text(encoding="utf-8")
    for claim in CLAIMS:
        assert f'data-claim="{claim}"' in html
    assert "WAIVED: Known defect KB-123" in html
    assert "embedded LAB cluster" in html
    assert "data:image/png;base64," in html
    assert external_references(html) == []
    assert json.loads((run / "summary.json").read_text(encoding="utf-8")) == doc


def test_summary_escapes_what_it_shows(tmp_path: Path) -> None:
    run = tmp_path / "run"
    doc = summary_doc(run)
    doc["signature"] = '<img src="https://evil.example/x.png">'
    html = render_html(doc, run)
    assert '<img src="https://evil.example' not in html and external_references(html) == []


def test_controls_group_the_summary(tmp_path: Path) -> None:
    run = tmp_path / "run"
    html = render_html(summary_doc(run, CONTROLS), run)
    bc07 = html.index("BC-07 Planned maintenance keeps services available")
    itgc = html.index("ITGC-12")
    rest = html.index("Claims not mapped to a control")
    assert bc07 < html.index('data-claim="QM-03"') < itgc < html.index('data-claim="QM-13"') < rest
    assert rest < html.index('data-claim="QM-01"')


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (CONTROLS.replace("QM-13", "QM-77"), "$.controls[1].claims[0]: unknown claim 'QM-77'"),
        (CONTROLS.replace("ITGC-12", "BC-07"), "$.controls[1].id: duplicate control id"),
        (CONTROLS.replace("claims: [QM-13]", "claims: []"), "$.controls[1].claims"),
        ("controls: {}\n", "$.controls"),
    ],
)
def test_bad_controls_file(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "controls.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_controls(path)
    assert needle in err.value.message and str(path) in err.value.message


def test_bad_controls_stop_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--target", "lab+sim", "--controls", "missing.yaml"]) == 2
    assert "missing.yaml: file not found" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_summary_html_in_chromium_offline(tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    run = tmp_path / "run"
    _json, html_path = write_summary(run, summary_doc(run, CONTROLS))
    dom, requests = load_offline(chromium, html_path)
    assert requests == []
    for claim in CLAIMS:
        assert f'data-claim="{claim}"' in dom, claim
    assert "WAIVED" in dom and "BC-07" in dom
