"""The stop signals of this OS, handled where Python allows it and skipped cleanly elsewhere.

POSIX delivers SIGINT (Ctrl+C) and SIGTERM (kill); Windows delivers SIGINT and SIGBREAK
(Ctrl+Break) to a console process and has no SIGTERM sender, so a handler for it is harmless.
Python installs handlers in the main thread only: elsewhere nothing is installed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]

STOP_SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGBREAK")


def stop_signals() -> tuple[int, ...]:
    """The numbers of the stop signals this OS has (SIGBREAK only on Windows)."""
    return tuple(int(getattr(signal, n)) for n in STOP_SIGNAL_NAMES if hasattr(signal, n))


def signal_name(signum: int) -> str:
    """SIGINT, SIGTERM, …; `signal <n>` for a number this OS does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextmanager
def handling(handler: Handler) -> Iterator[tuple[int, ...]]:
    """Install `handler` for every stop signal while the block runs; yields those installed.

    Outside the main thread, or for a signal the OS refuses, nothing is installed for it and
    the previous handlers stay: the block runs either way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield ()
        return
    previous: dict[int, Any] = {}
    for sig in stop_signals():
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            continue
    try:
        yield tuple(previous)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
