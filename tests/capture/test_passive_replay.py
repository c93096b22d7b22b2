"""A capture covers the passive probes: a captured cluster is audited passively offline (replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.lab.serve import LabServer
from tests.capture.conftest import lab_secrets


@pytest.fixture(scope="module")
def month_capture(served_lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("capture") / "month"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in lab_secrets(served_lab).items():
            patch.setenv(key, value)
        code = main(["capture", "--target", str(served_lab.inventory_path), "--out", str(out),
                     "--since-hours", "720"])  # fmt: skip
    assert code == 0
    return out


def _records(reports: Path) -> list[dict[str, object]]:
    (run,) = [p for p in reports.iterdir() if p.name != "history"]
    return [json.loads(p.read_text()) for p in (run / "evidence").glob("*.json")]


def test_a_captured_cluster_is_audited_passively_offline(
    month_capture: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    code = main(["run", "--passive", "--target", f"replay:{month_capture}", "--no-report",
                 "--no-history", "--reports", str(reports)])  # fmt: skip
    records = _records(reports)
    assert code == 0, [r.get("failure") for r in records if r["verdict"] in ("failed", "broken")]
    judged = {(r["claim"], r["checked"]) for r in records if r["verdict"] == "passed"}
    assert ("QM-01", "history") in judged and ("QM-22", "passive") in judged


def test_a_window_longer_than_the_capture_is_refused_not_guessed(
    month_capture: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    code = main(["run", "--passive", "--since", "60d", "--target", f"replay:{month_capture}",
                 "--no-report", "--no-history", "--reports", str(reports)])  # fmt: skip
    broken = [r for r in _records(reports) if r["verdict"] == "broken"]
    assert code == 3 and broken and all(r["checked"] == "history" for r in broken)
    assert all("capture more" in str(r["failure"]) for r in broken)
