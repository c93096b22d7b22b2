"""One disruptive action per cluster at a time: a locked file per cluster name (filelock)."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

from filelock import FileLock

LOCK_DIR_ENV = "QM_LOCK_DIR"


def lock_dir() -> Path:
    """QM_LOCK_DIR, or `qmaudit-locks` under the system temp folder."""
    given = os.environ.get(LOCK_DIR_ENV)
    return Path(given) if given else Path(tempfile.gettempdir()) / "qmaudit-locks"


def lock_path(cluster: str, folder: Path | None = None) -> Path:
    """The lock file of a cluster; names compare case-insensitively like Windows names."""
    safe = re.sub(r"[^a-z0-9._-]+", "_", cluster.casefold()) or "_"
    return (folder or lock_dir()) / f"{safe}.lock"


class ClusterLock:
    """An exclusive lock on one cluster, shared by every process and thread on this machine.

    The OS lock (flock on POSIX, LockFileEx on Windows, through filelock) belongs to the open
    file, so two processes exclude each other; the thread lock keeps this object's own
    acquire/release pairs consistent across threads.
    """

    def __init__(self, cluster: str, folder: Path | None = None) -> None:
        self.cluster = cluster
        self.path = lock_path(cluster, folder)
        self._file = FileLock(self.path, mode=0o600, thread_local=False, on_acquired=_note_pid)
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._file.is_locked

    def acquire(self) -> None:
        self._mutex.acquire()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file.acquire()
        except BaseException:
            self._mutex.release()
            raise

    def release(self) -> None:
        if not self._file.is_locked:
            return
        try:
            self._file.release()
        finally:
            self._mutex.release()

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _note_pid(fd: int) -> None:
    """Write the holder's pid into the lock file (for whoever looks at a stuck lock)."""
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        pass  # a note only: the lock is held either way
