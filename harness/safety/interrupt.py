"""SIGINT/SIGTERM during a run: finish the action in flight, restore, stop, say what was left."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from harness.safety.guard import StopFlag
from harness.safety.journal import JOURNAL_FILE, load_state


class RunStop:
    """A pytest plugin holding the run's stop flag (found by type: harness.safety.runguard)."""

    def __init__(self) -> None:
        self.flag = StopFlag()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The scenario's Restorer has run by now: only then may pytest stop the session.
        if self.flag.stopping:
            item.session.shouldstop = "qmaudit: interrupted by a signal"

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.flag.stopping:
            self.flag.request(signum)
            print(
                f"\nqmaudit: {name}: starting no new action; the action in flight finishes, "
                "then the scenario restores what it touched (send it again to abandon)",
                file=sys.stderr,
                flush=True,
            )
            return
        self.flag.request(signum)
        print(
            f"\nqmaudit: second {name}: abandoning the restore; the journal is left for "
            "`qmaudit recover`",
            file=sys.stderr,
            flush=True,
        )
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM while the block runs (main thread only: Python's rule)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}
        for sig in (int(signal.SIGINT), int(signal.SIGTERM)):
            previous[sig] = signal.signal(sig, self.on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + (self.flag.signum or int(signal.SIGINT))


def journal_verdict(run_dir: Path) -> tuple[bool, str]:
    """(left as found, one sentence) from the run's journal."""
    path = run_dir / JOURNAL_FILE
    if not path.is_file():
        return True, "no action was journalled: nothing was changed"
    state = load_state(path)
    if state.complete:
        return True, "every VM and node the run touched is back as found (journal complete)"
    left = sorted(state.vms) + [f"node {n}" for n in sorted(state.nodes)]
    inflight = len(state.open_actions)
    detail = f"not restored: {', '.join(left) or '-'}; actions left in flight: {inflight}"
    return False, f"THE CLUSTER MAY NOT BE AS FOUND ({detail}): run `qmaudit recover {run_dir}`"
