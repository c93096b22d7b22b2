"""Disruption budgets: refused before anything moves (exit 2), and the guard's runtime backstop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.audit.guard import ActionGuard, ActionRequest, MoveBudgetError, VmPlace
from harness.audit.journal import JOURNAL_FILE, Journal, read_journal
from harness.audit.tally import tally_journal
from harness.cli import main
from harness.evidence.records import new_run_id
from harness.run.budget import Budget
from harness.suite.runner import suite_args
from tests.targets.conftest import dead_port

REPO = Path(__file__).resolve().parents[2]

SELECTION = "QM-17"  # one request moving two VMs, then their restores: 4 moves


def _run(tmp_path: Path, *extra: str) -> int:
    return main(
        ["run", "--target", "lab+sim", "-m", SELECTION, "--no-report", "--no-history",
         "--reports", str(tmp_path), *extra]
    )  # fmt: skip


def test_over_max_moves_exits_2_naming_the_figures_and_moves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = _run(tmp_path, "--max-moves", "3")
    err = capsys.readouterr().err
    assert rc == 2
    assert "4 planned move(s) (2 restoring) > --max-moves 3" in err
    assert "nothing was changed" in err and "Traceback" not in err
    assert not list(tmp_path.glob(f"*/{JOURNAL_FILE}"))  # no run folder, no action journalled


def test_over_max_downtime_per_vm_names_each_vm_and_its_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = _run(tmp_path, "--max-downtime-per-vm", "5")
    err = capsys.readouterr().err
    assert rc == 2
    over = [ln for ln in err.splitlines() if "> --max-downtime-per-vm 5" in ln]
    assert over and all("s planned downtime over 2 outage(s)" in ln for ln in over), err
    assert not list(tmp_path.glob(f"*/{JOURNAL_FILE}"))


def test_within_budget_the_run_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = _run(tmp_path, "--max-moves", "4", "--max-downtime-per-vm", "600")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "within budget: 4 move(s)" in out
    (journal,) = tmp_path.glob(f"*/{JOURNAL_FILE}")
    assert tally_journal(read_journal(journal)).moves == 4


def test_a_negative_budget_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "lab+sim", "--max-moves", "-1"]) == 2
    assert "--max-moves" in capsys.readouterr().err


def _move(vms: list[str], restoring: bool = False) -> ActionRequest:
    return ActionRequest("move", [VmPlace(v, "N1", "Running") for v in vms], [], "N2", restoring)


def test_the_guard_refuses_a_move_past_the_budget_but_never_a_restore(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL_FILE)
    guard = ActionGuard("C", journal=journal, max_moves=3)
    guard.after(guard.before(_move(["a", "b"])), True)
    with pytest.raises(MoveBudgetError, match="would make 4, over --max-moves 3"):
        guard.before(_move(["c", "d"]))
    assert guard.open is None  # refused before it started: nothing in flight, lock released
    guard.after(guard.before(_move(["a"])), True)  # the third move fits
    guard.after(guard.before(_move(["b"], restoring=True)), True)  # a restore: always
    guard.after(guard.before(_move(["a"], restoring=True)), True)
    with pytest.raises(MoveBudgetError):
        guard.before(_move(["e"]))
    guard.close()
    moves = [e for e in read_journal(tmp_path / JOURNAL_FILE) if e["kind"] == "action"]
    assert [len(e["vms"]) for e in moves] == [2, 1, 1, 1]


def test_the_guard_counts_moves_of_every_writer_of_the_journal(tmp_path: Path) -> None:
    # pytest-xdist workers of one run share the journal: their moves count too.
    other = Journal(tmp_path / JOURNAL_FILE, writer="gw1")
    other.write("action", id="x", action="move", vms=[{"vm": "z", "owner": "N1"}], restoring=False)
    guard = ActionGuard("C", journal=Journal(tmp_path / JOURNAL_FILE), max_moves=1)
    with pytest.raises(MoveBudgetError, match="has made 1 move"):
        guard.before(_move(["a"]))
    other.close()
    guard.close()


def test_without_a_journal_the_guard_counts_its_own_moves() -> None:
    guard = ActionGuard("C", max_moves=1)
    guard.after(guard.before(_move(["a"])), True)
    with pytest.raises(MoveBudgetError):
        guard.before(_move(["b"]))


def test_the_backstop_reaches_the_run_guard(tmp_path: Path) -> None:
    """The suite run with the budget's pytest arguments: the over-budget move is refused."""
    run_dir = tmp_path / "run"
    args = suite_args("lab+sim", 20.0, run_dir, new_run_id(), None, SELECTION)
    assert pytest.main([*args, *Budget(max_moves=1).pytest_args()]) != 0
    entries = read_journal(run_dir / JOURNAL_FILE)
    assert tally_journal(entries).moves == 0  # the two-VM move was refused before it started
    records = "".join(p.read_text() for p in (run_dir / "evidence").glob("*.json"))
    assert "over --max-moves 1" in records


def test_a_budget_that_cannot_be_checked_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No node of the inventory answers: no plan, so the budget cannot be shown to hold.
    doc = {
        "cluster": "PRODCLU1",
        "defaults": {"scheme": "http", "transport": "ntlm", "connect_timeout_s": 1.0},
        "credentials": {"username_env": "QMT_USER", "password_env": "QMT_PASSWORD"},
        "nodes": [{"name": "HV01", "host": "127.0.0.1", "port": dead_port()}],
        "vms": {"allow": ["qm-*"]},
    }
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("QMT_USER", "u")
    monkeypatch.setenv("QMT_PASSWORD", "p-unused-1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    reports = tmp_path / "reports"
    rc = main(["run", "--target", str(inventory), "--max-moves", "100", "--no-report",
               "--no-history", "--reports", str(reports)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "node HV01 unreachable" in err and "cannot check the budget" in err
    assert not list(reports.glob(f"*/{JOURNAL_FILE}"))


def test_several_targets_each_get_the_budget() -> None:
    from harness.cli import _run_passthrough, build_parser

    args = build_parser().parse_args(
        ["run", "--target", "lab", "--target", "lab+sim", "--max-moves", "0",
         "--max-downtime-per-vm", "30"]
    )  # fmt: skip
    passed = _run_passthrough(args)
    assert passed[passed.index("--max-moves") + 1] == "0"  # zero is a budget, not "none"
    assert passed[passed.index("--max-downtime-per-vm") + 1] == "30.0"
    assert "--max-moves" not in _run_passthrough(build_parser().parse_args(["run"]))
