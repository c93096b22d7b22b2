"""One disruptive action per cluster at a time: an flock'ed file per cluster name."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import threading
from pathlib import Path

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

    flock() locks belong to the open file, so two opens in one process exclude each other too;
    the thread lock keeps this object's own acquire/release pairs consistent.
    """

    def __init__(self, cluster: str, folder: Path | None = None) -> None:
        self.cluster = cluster
        self.path = lock_path(cluster, folder)
        self._fd = -1
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self) -> None:
        self._mutex.acquire()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
        except BaseException:
            self._mutex.release()
            raise

    def release(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            self._mutex.release()

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
