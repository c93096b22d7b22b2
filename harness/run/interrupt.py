"""SIGINT/SIGTERM during a run: finish the action in flight, restore, stop, say what was left."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from harness.audit.guard import StopFlag
from harness.audit.journal import JOURNAL_FILE, Journal, load_state
from harness.exits import command_name
from harness.signals import handling, signal_name


class RunStop:
    """A pytest plugin holding the run's stop flag (found by type: harness.run.runguard)."""

    def __init__(self, run_dir: Path | None = None, run_id: str = "", target: str = "") -> None:
        self.flag = StopFlag()
        self.run_dir = run_dir
        self.run_id = run_id
        self.target = target
        self._stderr_fd = -1  # the terminal's stderr, kept past pytest's output capture

    def _say(self, text: str) -> None:
        if self._stderr_fd >= 0:
            os.write(self._stderr_fd, text.encode("utf-8", "replace"))
        else:
            print(text, end="", file=sys.stderr, flush=True)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The scenario's Restorer has run by now: only then may pytest stop the session.
        if self.flag.stopping:
            item.session.shouldstop = "qmaudit: interrupted by a signal"

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal_name(signum)
        if not self.flag.stopping:
            self.flag.request(signum)
            self._say(
                f"\nqmaudit: {name}: starting no new action; the action in flight finishes, "
                "then the run restores what it touched (send it again to abandon)\n"
            )
            return
        self.flag.request(signum)
        if self.run_dir is None:  # not under `qmaudit run`: let pytest unwind
            print(f"\nqmaudit: second {name}: abandoning the restore", file=sys.stderr, flush=True)
            raise KeyboardInterrupt
        self.abandon(signum)

    def abandon(self, signum: int) -> None:
        """Second signal: stop waiting now; leave the journal, a manifest and the recover command.

        Raising into whatever the run was waiting on would unwind through teardowns that wait
        again (and end in a traceback); instead the state is written here and the process ends
        at once with 128 + signal. Journal entries are fsynced as they are written, the lease
        and the action lock end with the process, and `qmaudit recover` finishes the restore.
        """
        if self.run_dir is None:
            return
        name = signal_name(signum)
        run_dir = self.run_dir.resolve()
        problems: list[str] = []
        try:
            journal = Journal(run_dir / JOURNAL_FILE, writer=f"signal-{os.getpid()}")
            state = load_state(run_dir / JOURNAL_FILE)
            journal.write(
                "abandoned",
                signal=name,
                not_restored=sorted(state.vms),
                nodes_not_restored=sorted(state.nodes),
                actions_in_flight=[a.get("id") for a in state.open_actions],
            )
            journal.close()
        except OSError as exc:
            problems.append(f"journal not written: {exc.strerror or exc}")
        try:
            from harness.evidence.manifest import write_manifest

            write_manifest(run_dir, self.run_id, {"target_spec": self.target, "abandoned_by": name})
        except (OSError, ValueError) as exc:
            problems.append(f"manifest not written: {exc}")
        _found, how = journal_verdict(run_dir)
        command = f"{command_name()} recover {shlex.quote(str(run_dir))}"
        sys.stdout.flush()
        self._say(
            f"\nqmaudit: second {name}: stopped waiting; run {self.run_id} ABANDONED: {how}\n"
            f"qmaudit: journal state and manifest written to {run_dir}\n"
            + "".join(f"qmaudit: {p}\n" for p in problems)
            + f"qmaudit: to put the cluster back as found, run:\n  {command}\n"
        )
        os._exit(128 + signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the stop signals while the block runs (harness/signals.py: SIGINT, SIGTERM, and
        SIGBREAK on Windows; main thread only, Python's rule)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._stderr_fd = os.dup(2)  # before pytest redirects fd 2 into its capture file
        try:
            with handling(self.on_signal):
                yield
        finally:
            fd, self._stderr_fd = self._stderr_fd, -1
            os.close(fd)

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
    command = f"{command_name()} recover {shlex.quote(str(run_dir))}"
    return False, f"THE CLUSTER MAY NOT BE AS FOUND ({detail}): run `{command}`"
