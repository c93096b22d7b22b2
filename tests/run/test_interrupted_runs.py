"""Against a lab served over WinRM in this process: plan changes nothing; SIGTERM and kill -9."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from harness.audit.journal import JOURNAL_FILE, load_state, read_journal
from harness.lab.responder import ACTION, LabResponder
from tests.run.conftest import ServedLab, open_action, wait_for

# Scenarios that move, drain and crash: a few, to keep the directory fast.
SELECTION = "QM-17 or QM-18 or QM-19"


def _files(served: ServedLab) -> dict[str, bytes]:
    folder = served.server.state_dir
    assert folder is not None
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_plan_lists_actions_and_changes_nothing(
    served: ServedLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answer = LabResponder.answer

    def spy(
        self: LabResponder, node: str, probe: str, params: Any = None, **session: Any
    ) -> dict[str, Any]:
        asked.append(probe)
        return answer(self, node, probe, params, **session)

    monkeypatch.setattr(LabResponder, "answer", spy)
    before = served.truth()
    state = _files(served)
    proc = served.qmaudit("plan", "--target", str(served.inventory), "-m", SELECTION)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert served.truth() == before
    assert _files(served) == state  # the served lab's own folder is untouched
    assert served.moves() == 0, "plan mode must not move anything"
    # The served cluster saw read probes only: the suite ran on the twin.
    assert asked and not (set(asked) & (ACTION | {"lab_crash_node", "lab_power_on_node"}))
    plan_files = list((served.cwd / "reports").glob("*/plan.json"))
    assert len(plan_files) == 1
    doc = json.loads(plan_files[0].read_text())
    rows = doc["actions"]
    assert {"move", "drain", "crash"} <= {r["action"] for r in rows}
    firsts: dict[str, str] = {}
    for row in rows:
        if row["vm"] is not None:
            firsts.setdefault(row["vm"], row["source"])
    # Each VM's first action starts where the served cluster holds it.
    assert firsts and all(before["vms"][vm][0] == node for vm, node in firsts.items())
    assert any(r["restoring"] for r in rows) and doc["summary"]["restores"] >= 1
    assert "expected downtime" in out and "cluster decides" in out
    assert not list((served.cwd / "reports").glob(f"*/{JOURNAL_FILE}"))


def test_an_over_budget_run_of_a_served_cluster_moves_nothing(served: ServedLab) -> None:
    before = served.truth()
    proc = served.qmaudit(
        "run", "--target", str(served.inventory), "-m", SELECTION, "--max-moves", "1",
        "--no-report",
    )  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert "> --max-moves 1" in err and "Traceback" not in err
    assert served.truth() == before and served.moves() == 0
    assert not list((served.cwd / "reports").glob(f"*/{JOURNAL_FILE}"))


def test_sigterm_finishes_the_move_restores_and_exits_nonzero(served: ServedLab) -> None:
    before = served.truth()
    proc = served.qmaudit("run", "--target", str(served.inventory), "-m", SELECTION, "--no-report")
    run_dir, inflight = wait_for("a move in flight", lambda: open_action(served.cwd))
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "INTERRUPTED" in err and "as found" in err
    entries = read_journal(run_dir / JOURNAL_FILE)
    assert load_state(run_dir / JOURNAL_FILE).complete
    # The action in flight finished; after it only restoring actions were started.
    ids = [e["id"] for e in entries if e["kind"] == "action"]
    assert any(e["kind"] == "done" and e["id"] == inflight["id"] for e in entries)
    later = [
        e
        for e in entries
        if e["kind"] == "action" and ids.index(e["id"]) > ids.index(inflight["id"])
    ]
    assert all(e["restoring"] for e in later)
    assert served.truth() == before


def test_kill_9_mid_move_then_recover(served: ServedLab) -> None:
    before = served.truth()
    proc = served.qmaudit("run", "--target", str(served.inventory), "-m", SELECTION, "--no-report")
    # In the middle of a migration: journalled, not done, and the lab has started moving.
    run_dir, _ = wait_for(
        "a move in flight", lambda: served.moves() > 0 and open_action(served.cwd)
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not load_state(run_dir / JOURNAL_FILE).complete
    recover = served.qmaudit("recover", str(run_dir))
    out, err = recover.communicate(timeout=120)
    assert recover.returncode == 0, out + err
    assert "every VM is back as found" in out
    assert served.truth() == before
    assert load_state(run_dir / JOURNAL_FILE).complete
    # A second recover finds nothing left to do.
    again = served.qmaudit("recover", str(run_dir))
    out2, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "journal complete" in out2
