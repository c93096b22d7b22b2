"""The run lease: one run per cluster for the whole run, shared by that run's processes.

The per-action lock (harness.audit.lock) keeps two actions apart; the lease keeps two *runs*
apart, so a run never records an "original" owner while another run is moving that VM. The
lease file `<cluster>.lease` in QM_LOCK_DIR names the owning run id and the live processes
holding it (the runner and its pytest-xdist workers share it by run id); a short file lock on
`<cluster>.lease.lock` (filelock: flock on POSIX, LockFileEx on Windows) serialises every
change. A holder that died (kill -9) is dropped when its pid no longer exists, so a crashed run
never blocks the cluster for good.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from filelock import FileLock

from harness.audit.journal import utc_now
from harness.audit.lock import lock_dir, lock_path
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.targets.registry import TargetSpec

LEASE_TIMEOUT_ENV = "QM_LEASE_TIMEOUT"
POLL_S = 0.5


class ClusterBusyError(HarnessError):
    """Another run holds the cluster's lease: this run changed nothing."""

    exit_code = 2


class ClusterNotIdleError(HarnessError):
    """The cluster was not idle (a role still moving or pending): no verdict can be drawn."""


def lease_timeout_from_env(default: float = 0.0) -> float:
    """QM_LEASE_TIMEOUT (seconds) as set by `qmaudit run --lease-timeout`, else `default`."""
    text = os.environ.get(LEASE_TIMEOUT_ENV, "")
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if value >= 0 else default


def _alive(pid: int) -> bool:
    """Whether process `pid` still exists (on Windows without os.kill, which would end it)."""
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive_windows(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess: alive while the exit code is STILL_ACTIVE (259)."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        denied = ctypes.get_last_error() == 5  # type: ignore[attr-defined]
        return bool(denied)  # ERROR_ACCESS_DENIED: it exists
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259
    finally:
        kernel32.CloseHandle(handle)


@dataclass
class RunLease:
    """An exclusive lease on one cluster for one run id (shared by that run's processes)."""

    cluster: str
    run_id: str
    folder: Path | None = None
    pid: int = field(default_factory=os.getpid)
    held: bool = False
    waited_s: float = 0.0

    @property
    def path(self) -> Path:
        return lock_path(self.cluster, self.folder or lock_dir()).with_suffix(".lease")

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path.with_suffix(".lease.lock"), mode=0o600):
            yield

    def _read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict):
            return {}
        holders = [p for p in doc.get("holders", []) if isinstance(p, int) and _alive(p)]
        return {**doc, "holders": holders} if holders else {}

    def _write(self, doc: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(f".lease.{self.pid}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)

    def owner(self) -> dict[str, Any]:
        """The current owner's record ({} if the cluster is free)."""
        with self._mutex():
            return self._read()

    def try_acquire(self) -> dict[str, Any] | None:
        """Take or share the lease; None on success, else the other run's record."""
        with self._mutex():
            doc = self._read()
            if doc and doc.get("run_id") != self.run_id:
                return doc
            if not doc:
                doc = {"run_id": self.run_id, "cluster": self.cluster, "since": utc_now()}
            if self.pid not in doc.setdefault("holders", []):
                doc["holders"].append(self.pid)
            self._write(doc)
            self.held = True
            return None

    def acquire(
        self,
        timeout_s: float,
        out: TextIO | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Take the lease, waiting up to `timeout_s` (saying so once); ClusterBusyError after."""
        started = clock()
        told = False
        while True:
            other = self.try_acquire()
            if other is None:
                self.waited_s = clock() - started
                return
            who = (
                f"cluster {self.cluster!r} is in use by run {other.get('run_id')} "
                f"(pid {', '.join(str(p) for p in other.get('holders', []))}, "
                f"since {other.get('since')})"
            )
            if clock() - started >= timeout_s:
                hint = "" if timeout_s else "; wait for it with --lease-timeout SECONDS"
                raise ClusterBusyError(f"{who}: this run changed nothing{hint}")
            if not told:
                print(
                    f"qmaudit: {who}; waiting up to {timeout_s:g} s for it to finish",
                    file=out or sys.stderr,
                    flush=True,
                )
                told = True
            sleep(POLL_S)

    def release(self) -> None:
        """Drop this process from the lease; the last holder frees the cluster."""
        if not self.held:
            return
        self.held = False
        with self._mutex():
            doc = self._read()
            if doc.get("run_id") != self.run_id:
                return
            doc["holders"] = [p for p in doc["holders"] if p != self.pid]
            if doc["holders"]:
                self._write(doc)
            else:
                self.path.unlink(missing_ok=True)


def require_idle(pending_roles: list[str], moving_vms: list[str] | None = None) -> None:
    """ClusterNotIdleError when a role is still pending or a VM still moving."""
    busy = sorted(pending_roles) + sorted(moving_vms or [])
    if busy:
        raise ClusterNotIdleError(
            f"cluster not idle: still moving or pending: {', '.join(busy)} "
            "(another run or an operator is changing the cluster; no verdict drawn)"
        )


def cluster_of_spec(spec: str | TargetSpec) -> str | None:
    """The cluster an inventory target names (None for lab targets, which each run owns)."""
    from harness.targets.registry import parse_spec

    parsed = parse_spec(spec, check=False)
    if not parsed.is_inventory:
        return None
    from harness.targets.inventory import load_inventory

    return load_inventory(str(parsed.path)).cluster


@contextmanager
def run_lease(spec: str | TargetSpec, run_id: str, timeout_s: float) -> Iterator[RunLease | None]:
    """Hold the cluster's lease for a whole `qmaudit run` (before anything is written)."""
    cluster = cluster_of_spec(spec)
    if cluster is None:
        yield None
        return
    lease = RunLease(cluster, run_id)
    lease.acquire(timeout_s)
    previous = os.environ.get(LEASE_TIMEOUT_ENV)
    os.environ[LEASE_TIMEOUT_ENV] = str(timeout_s)
    try:
        yield lease
    finally:
        lease.release()
        if previous is None:
            os.environ.pop(LEASE_TIMEOUT_ENV, None)
        else:
            os.environ[LEASE_TIMEOUT_ENV] = previous
