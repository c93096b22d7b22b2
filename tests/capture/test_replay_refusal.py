"""A replay refuses, before it starts, the scenarios that need what a capture cannot hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.suite.runner import features_dir
from harness.suite.selection import matching, replay_refusals


def test_refusals_follow_the_selection() -> None:
    refused, runnable = replay_refusals("QM-13", features_dir())
    assert refused and not runnable
    assert all(title.startswith("QM-13 ") for title in refused)
    everything = [s for s in matching(None, features_dir()) if "passive" not in s[1]]
    refused_all, runnable_all = replay_refusals(None, features_dir())
    assert len(refused_all) + len(runnable_all) == len(everything) >= 20


def test_replay_run_refuses_up_front_naming_the_scenarios(
    lab_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    code = main(
        ["run", "--target", f"replay:{lab_capture}", "-m", "QM-13", "--reports", str(reports)]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "refused" in err and "need actions" in err
    for title, tags in matching("QM-13", features_dir()):
        if "passive" not in tags:  # @passive scenarios run only with --passive
            assert f"  {title}\n" in err
    assert err.strip().splitlines()[-1].startswith("qmaudit: exit 2: bad input")
    assert not reports.exists()  # nothing was started
