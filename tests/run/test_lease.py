"""One run per cluster: the lease is exclusive across runs, shared within one, never stale."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.audit.journal import journal_state, read_journal
from harness.errors import HarnessError
from harness.run.lease import ClusterBusyError, ClusterNotIdleError, RunLease, require_idle
from tests.run.conftest import REPO, ServedLab

_HOLD = """
import sys, time
from pathlib import Path
from harness.run.lease import RunLease
lease = RunLease("CLU1", sys.argv[1], Path(sys.argv[2]))
lease.acquire(0)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
lease.release()
"""


def _holder(run_id: str, folder: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, run_id, str(folder), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_another_run_is_refused_the_same_run_shares(tmp_path: Path) -> None:
    other = _holder("run-A", tmp_path, 30)
    try:
        with pytest.raises(ClusterBusyError) as info:
            RunLease("clu1", "run-B", tmp_path).acquire(0)  # names compare case-insensitively
        assert info.value.exit_code == 2
        assert (
            "in use by run run-A" in info.value.message and "--lease-timeout" in info.value.message
        )
        worker = RunLease("CLU1", "run-A", tmp_path)  # an xdist worker of the same run
        worker.acquire(0)
        assert worker.held
        worker.release()
    finally:
        other.kill()
        other.wait()


def test_a_second_run_waits_for_the_first_then_takes_the_lease(tmp_path: Path) -> None:
    other = _holder("run-A", tmp_path, 1.5)
    out = io.StringIO()
    lease = RunLease("CLU1", "run-B", tmp_path)
    lease.acquire(60, out=out)
    other.wait()
    assert lease.held and lease.waited_s > 0.5
    assert "in use by run run-A" in out.getvalue() and "waiting up to 60 s" in out.getvalue()
    lease.release()
    assert not lease.path.exists(), "the last holder frees the cluster"


def test_a_killed_run_does_not_block_the_cluster(tmp_path: Path) -> None:
    other = _holder("run-A", tmp_path, 60)
    os.kill(other.pid, signal.SIGKILL)
    other.wait()
    lease = RunLease("CLU1", "run-B", tmp_path)
    lease.acquire(0)
    assert lease.owner()["run_id"] == "run-B"
    lease.release()


def test_waiting_gives_up_at_the_timeout(tmp_path: Path) -> None:
    other = _holder("run-A", tmp_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(ClusterBusyError):
            RunLease("CLU1", "run-B", tmp_path).acquire(1.0, out=io.StringIO())
        assert 1.0 <= time.monotonic() - started < 10
    finally:
        other.kill()
        other.wait()


def test_a_busy_cluster_is_broken_not_a_violation() -> None:
    with pytest.raises(ClusterNotIdleError) as info:
        require_idle(["web 01"])
    assert isinstance(info.value, HarnessError) and not isinstance(info.value, AssertionError)
    assert "cluster not idle" in info.value.message
    require_idle([])


def test_originals_recorded_without_the_lease_are_not_trusted() -> None:
    state = journal_state(
        [
            {"kind": "remember", "vm": "a", "owner": "HV-B", "state": "Running", "leased": False},
            {"kind": "remember", "vm": "b", "owner": "HV-A", "state": "Running", "leased": True},
        ]
    )
    assert list(state.vms) == ["b"] and state.untrusted == ["a"]


def test_two_runs_against_one_served_lab(served: ServedLab) -> None:
    """Both end with correct verdicts (the second waited or was refused), every VM as found."""
    before = served.truth()
    selection = "QM-17 or QM-18 or QM-19"
    args = ["run", "--target", str(served.inventory), "-m", selection, "--no-report"]
    first = served.qmaudit(*args)
    second = served.qmaudit(*args, "--lease-timeout", "300")
    third = served.qmaudit(*args)  # no waiting: refused unless the cluster happens to be free
    results = [(p, *p.communicate(timeout=600)) for p in (first, second, third)]
    ran = 0  # whichever run starts first takes the lease; the non-waiting others are refused
    for proc, out, err in results:
        assert "Traceback" not in err, err
        assert "FAILED" not in out, out  # no false "claim violated"
        if proc.returncode == 2:
            assert "is in use by run" in err and "changed nothing" in err, err
        else:
            assert proc.returncode == 0, out + err
            assert "every claim checked holds" in out
            ran += 1
    assert second.returncode == 0, "the waiting run runs, first or after the other"
    assert ran >= 1
    assert served.truth() == before
    leases = list(Path(served.env["QM_LOCK_DIR"]).glob("*.lease"))
    assert not leases, "every run released the lease"


def test_xdist_workers_of_one_run_share_the_lease(served: ServedLab) -> None:
    before = served.truth()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "pytest", str(REPO / "features"), "-p", "no:cacheprovider"),
            *("--qm-target", str(served.inventory), "-n", "2", "-m", "QM-01 or QM-04"),
        ],
        cwd=served.cwd,
        env=served.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    journals = list((served.cwd / "reports").glob("*/journal.jsonl"))
    assert len(journals) == 1, "both workers write into one run"
    leases = [e for e in read_journal(journals[0]) if e["kind"] == "lease"]
    assert len({e["writer"] for e in leases}) == 2 and len({e["run_id"] for e in leases}) == 1
    assert served.truth() == before
