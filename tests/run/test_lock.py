"""One disruptive action per cluster: two processes on one cluster serialise, two clusters don't."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLD = """
import sys, time
from pathlib import Path
from harness.audit.lock import ClusterLock
lock = ClusterLock(sys.argv[1], Path(sys.argv[2]))
with lock:
    start = time.time()
    time.sleep(0.5)
    print(start, time.time())
"""


def _run_two(tmp_path: Path, first: str, second: str) -> list[tuple[float, float]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLD, name, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for name in (first, second)
    ]
    spans = []
    for proc in procs:
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        start, end = map(float, out.split())
        spans.append((start, end))
    return sorted(spans)


def test_same_cluster_serialises(tmp_path: Path) -> None:
    (_a_start, a_end), (b_start, _b_end) = _run_two(tmp_path, "QMLAB", "qmlab")
    assert b_start >= a_end - 0.01, "two holders of one cluster's lock overlapped"


def test_different_clusters_run_in_parallel(tmp_path: Path) -> None:
    (_a_start, a_end), (b_start, _b_end) = _run_two(tmp_path, "CLUSTER-A", "CLUSTER-B")
    assert b_start < a_end, "locks of different clusters must not exclude each other"
