"""The detection matrix: missed and unexpected claims, figures, Markdown and text output."""

from __future__ import annotations

import json
from pathlib import Path

from harness.selftest.matrix import figures, matrix_doc, render_markdown, render_text, write_reports
from harness.selftest.runner import RunResult, ScenarioOutcome, make_row


def _result(*outcomes: tuple[str, str]) -> RunResult:
    scenarios = tuple(
        ScenarioOutcome(f"s{i}", outcome, "msg", (claim,))
        for i, (claim, outcome) in enumerate(outcomes)
    )
    return RunResult(1, scenarios, "")


def test_clean_row_with_any_failure_is_a_false_alarm() -> None:
    row = make_row("clean lab", (), _result(("QM-01", "passed"), ("QM-02", "broken")), "clean")
    assert row.unexpected == ("QM-02",)
    assert not row.ok
    assert "broken: s1" in row.detail


def test_profile_row_detected_only_by_a_failed_primary_claim() -> None:
    failed = _result(("QM-06", "failed"), ("QM-19", "broken"), ("QM-01", "passed"))
    row = make_row("p", ("QM-06", "QM-19"), failed, "profile", primary=("QM-06",))
    assert row.ok and row.missed == () and row.unexpected == ()
    # A primary claim that merely broke (no verdict) is not a detection.
    broken = _result(("QM-06", "broken"), ("QM-19", "broken"))
    row = make_row("p", ("QM-06", "QM-19"), broken, "profile", primary=("QM-06",))
    assert row.missed == ("QM-06",) and not row.ok
    # A declared collateral claim that did not show at all is missed too.
    row = make_row("p", ("QM-06", "QM-19"), _result(("QM-06", "failed")), "profile", ("QM-06",))
    assert row.missed == ("QM-19",)


def test_extra_failure_is_flagged() -> None:
    row = make_row("p", ("QM-04",), _result(("QM-04", "failed"), ("QM-12", "failed")), "profile")
    assert row.unexpected == ("QM-12",) and not row.ok


def test_a_run_without_scenarios_is_never_ok() -> None:
    assert not make_row("clean lab", (), RunResult(4, (), "usage error"), "clean").ok


def test_figures_and_reports(tmp_path: Path) -> None:
    rows = [
        make_row("clean lab", (), _result(("QM-01", "passed")), "clean"),
        make_row("a", ("QM-04",), _result(("QM-04", "failed")), "profile", primary=("QM-04",)),
        make_row("b", ("QM-05",), _result(("QM-05", "passed")), "profile", primary=("QM-05",)),
        make_row("random #1", (), _result(("QM-09", "failed")), "random", "cluster: {}\n"),
    ]
    doc = matrix_doc(rows, 12.34, "sim")
    f = doc["figures"]
    assert (f["profiles_run"], f["defects_detected"], f["defects_total"]) == (2, 1, 2)
    assert (f["false_alarms_clean"], f["false_alarms_random"], f["random_topologies"]) == (0, 1, 1)
    assert f["ok"] is False and f["wall_time_s"] == 12.3
    markdown = render_markdown(doc)
    assert "| a | QM-04 | QM-04 | - | ok |" in markdown
    assert "| b | QM-05 | - | - | MISSED |" in markdown
    text = render_text(doc)
    assert "defects detected: 1 / 2" in text
    assert "topology to reproduce it:\ncluster: {}" in text
    json_path, md_path = write_reports(doc, tmp_path / "out")
    assert json.loads(json_path.read_text(encoding="utf-8"))["rows"][2]["missed"] == ["QM-05"]
    assert md_path.read_text(encoding="utf-8") == markdown
    assert figures(rows[:2], 1.0)["ok"] is True
