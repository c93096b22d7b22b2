"""Interrupts in a subprocess against a served lab: first signal restores, second abandons."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from harness.audit.journal import JOURNAL_FILE, load_state, read_journal
from tests.run.conftest import ServedLab, open_action, wait_for

SELECTION = "QM-17 or QM-18 or QM-19"


def test_first_sigint_restores_and_exits_130(served: ServedLab) -> None:
    before = served.truth()
    proc = served.qmaudit("run", "--target", str(served.inventory), "-m", SELECTION, "--no-report")
    run_dir, _ = wait_for("a move in flight", lambda: open_action(served.cwd))
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, out + err
    assert "Traceback" not in out + err
    assert "INTERRUPTED" in err and "starting no new action" in err
    assert (run_dir / "manifest.json").is_file()
    assert load_state(run_dir / JOURNAL_FILE).complete
    assert served.truth() == before


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_second_signal_stops_waiting_writes_state_and_the_recover_command(
    served: ServedLab, second: signal.Signals
) -> None:
    before = served.truth()
    proc = served.qmaudit("run", "--target", str(served.inventory), "-m", SELECTION, "--no-report")
    run_dir, _ = wait_for(
        "a move in flight", lambda: served.moves() > 0 and open_action(served.cwd)
    )
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.05)  # the first one is being handled: the action in flight is still settling
    started = time.monotonic()
    os.kill(proc.pid, second)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 10, "the second signal must stop waiting at once"
    assert proc.returncode == 128 + second, out + err
    assert "Traceback" not in out + err
    # The command as it works from here: this test runs `python -m harness.cli`.
    command = f"{sys.executable} -m harness.cli recover {run_dir.resolve()}"
    assert command in err, err
    assert (run_dir / "manifest.json").is_file()
    entries = read_journal(run_dir / JOURNAL_FILE)
    assert entries[-1]["kind"] == "abandoned" and entries[-1]["signal"] == second.name
    # The printed command puts everything back.
    recover = served.qmaudit(*command.split()[3:])
    rout, rerr = recover.communicate(timeout=120)
    assert recover.returncode == 0, rout + rerr
    assert served.truth() == before
