"""Disruption of the default audit, before and after a change: moves, outages, downtime, wall.

Runs the default audit of the embedded lab with two revisions of qmaudit side by side on this
machine (the older one from a temporary git worktree), over WinRM (`lab`) and in-process
(`lab+inproc`), alternating, and reads each run's journal with the same tally the plan uses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.audit.tally import Tally, tally_journal  # noqa: E402
from harness.suite.plan import Pricer  # noqa: E402
from harness.yamlfile import read_yaml_file  # noqa: E402

# The last commit before moves were shared (one move per scenario, restores after each).
DEFAULT_BEFORE = "e56ee0a"
TOPOLOGY = ROOT / "harness" / "lab" / "topologies" / "default.yaml"
FAILOVER_S = 120.0  # the crash's cold boot is priced at the failover bound, as the plan does
RUN = [sys.executable, "-m", "harness.cli", "run", "--no-report", "--no-history"]


def audit(checkout: Path, target: str, reports: Path) -> tuple[float, Path, int]:
    """One default audit with the qmaudit of `checkout`; wall seconds, run folder, exit code."""
    reports.mkdir(parents=True, exist_ok=True)
    before = set(reports.iterdir())
    env = {**os.environ, "PYTHONPATH": str(checkout), "QM_LOCK_DIR": tempfile.mkdtemp()}
    start = time.perf_counter()
    proc = subprocess.run(
        [*RUN, "--target", target, "--reports", str(reports)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = time.perf_counter() - start
    (run_dir,) = set(reports.iterdir()) - before
    return wall, run_dir, proc.returncode


def tally(run_dir: Path) -> Tally:
    lines = (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    doc: dict[str, Any] = read_yaml_file(TOPOLOGY)
    return tally_journal([json.loads(x) for x in lines if x.strip()], Pricer(doc, FAILOVER_S))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=1, help="audits per revision and target")
    parser.add_argument("--targets", default="lab,lab+inproc")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qm-disruption-"))
    old = work / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(old), args.before], cwd=ROOT, check=True
    )
    rows: list[tuple[str, str, list[float], Tally, int]] = []
    try:
        for target in args.targets.split(","):
            walls: dict[str, list[float]] = {"before": [], "after": []}
            last: dict[str, tuple[Tally, int]] = {}
            for _ in range(args.rounds):
                for label, checkout in (("before", old), ("after", ROOT)):
                    wall, run_dir, code = audit(checkout, target, work / label / target)
                    walls[label].append(wall)
                    last[label] = (tally(run_dir), code)
                    print(f"  {label:6} {target:11} {wall:6.1f} s  exit {code}", flush=True)
            for label in ("before", "after"):
                rows.append((label, target, walls[label], *last[label]))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    print()
    head = ("revision", "target", "wall s", "moves", "restores", "drains", "crashes")
    head += ("outages", "max/VM", "downtime s", "exit")
    print("  ".join(f"{h:>10}" for h in head))
    for label, target, walls, t, code in rows:
        cells = (label, target, f"{statistics.median(walls):.1f}", t.moves, t.restores, t.drains)
        cells += (t.crashes, t.outages, t.max_outages, f"{t.downtime_s:.0f}", code)
        print("  ".join(f"{c!s:>10}" for c in cells))
    by = {(r[0], r[1]): r for r in rows}
    for target in args.targets.split(","):
        b, a = by[("before", target)], by[("after", target)]
        ratio = statistics.median(b[2]) / statistics.median(a[2])
        print(
            f"{target}: moves {b[3].moves} -> {a[3].moves}, max outages per VM "
            f"{b[3].max_outages} -> {a[3].max_outages}, summed expected downtime "
            f"{b[3].downtime_s:.0f} s -> {a[3].downtime_s:.0f} s, wall time x{ratio:.2f} faster"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
