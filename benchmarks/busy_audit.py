"""The main job on a busy machine: `qmaudit run` N times with K busy loops, lab paced or not.

Prints, per run, the exit code, the claim verdicts and how many polls fell inside each move's
save window (samples whose own Get-VM saw Saving/Saved on the source), then the totals. Runs
with the lab's pacing on (the default) and, with --compare, the same runs with QM_LAB_PACE=off,
interleaved so machine noise hits both alike. A benchmark, not a test: it prints figures.

    python benchmarks/busy_audit.py --runs 10 --loops 4 [--compare] [--target lab]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAVE_STATES = {"Saving", "Saved"}
SPIN_LIMIT_S = 3600.0  # a busy loop never outlives this, whatever happens to the benchmark


def _spin(stop: Any, limit_s: float) -> None:
    end = time.monotonic() + limit_s
    while not stop.is_set() and time.monotonic() < end:
        pass


@contextmanager
def busy(loops: int) -> Iterator[None]:
    """`loops` busy processes (bounded in time), stopped when the block ends."""
    stop = multiprocessing.Event()
    workers = [
        multiprocessing.Process(target=_spin, args=(stop, SPIN_LIMIT_S), daemon=True)
        for _ in range(loops)
    ]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()


def polls_in_save_windows(evidence: Path) -> list[int]:
    """Per watched move and VM: polls whose own Get-VM saw Saving/Saved on the VM's source."""
    counts: list[int] = []
    for path in sorted(evidence.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        during = (record.get("observations") or {}).get("during") or []
        moves: dict[str, list[dict[str, Any]]] = {}
        for item in during:
            key = str(item.get("key", ""))
            if key.endswith(": move requested"):
                moves[key[: -len(": move requested")]] = []
            elif key.endswith(": poll") and key[: -len(": poll")] in moves:
                moves[key[: -len(": poll")]].append(item["value"])
        for polls in moves.values():
            if not polls or polls[0].get("vm_state") not in ("Running", "Saving", "Saved"):
                continue
            source = polls[0].get("owner_node")
            inside = [
                p
                for p in polls
                if p.get("vm_state") in SAVE_STATES
                and str(p.get("state_node") or "").casefold() == str(source).casefold()
            ]
            counts.append(len(inside))
    return counts


def one_run(target: str, pace: str, reports: Path) -> dict[str, Any]:
    # A private lock folder: the lab's cluster name is the same for every lab run on the
    # machine, and a benchmark must not hold other people's runs off with its lease.
    locks = reports.parent / "locks"
    env = dict(os.environ, QM_LAB_PACE=pace, QM_LOCK_DIR=os.environ.get("QM_LOCK_DIR", str(locks)))
    cmd = [sys.executable, "-m", "harness.cli", "run", "--target", target, "--no-report"]
    cmd += ["--reports", str(reports)]
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - started
    verdicts: dict[str, int] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("QM-") and parts[1].isupper():
            verdicts[parts[1]] = verdicts.get(parts[1], 0) + 1
    runs = sorted(p for p in reports.iterdir() if p.is_dir() and p.name[:1].isdigit())
    polls = polls_in_save_windows(runs[-1] / "evidence") if runs else []
    return {"rc": done.returncode, "verdicts": verdicts, "wall_s": wall, "polls": polls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per mode (default 10)")
    parser.add_argument("--loops", type=int, default=4, help="busy loops (default 4)")
    parser.add_argument("--target", default="lab", help="target (default lab, the main job's)")
    parser.add_argument("--compare", action="store_true", help="also run with pacing off")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 0 <= args.loops <= 16:
        parser.error("--runs must be 1..50 and --loops 0..16")
    modes = ["on", "off"] if args.compare else ["on"]
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    print(
        f"busy_audit: {args.runs} runs per mode, {args.loops} busy loops, "
        f"{os.cpu_count()} cores, target {args.target}"
    )
    with tempfile.TemporaryDirectory() as work, busy(args.loops):
        for i in range(args.runs):
            for mode in modes:
                r = one_run(args.target, mode, Path(work) / f"{mode}-{i}")
                results[mode].append(r)
                polls = r["polls"]
                print(
                    f"  pace {mode:3} run {i + 1:2}: exit {r['rc']} {r['verdicts']} "
                    f"{r['wall_s']:.0f} s; polls in save windows: min {min(polls, default=0)}, "
                    f"median {statistics.median(polls) if polls else 0:g} over {len(polls)} moves",
                    flush=True,
                )
    for mode in modes:
        rs = results[mode]
        ok = sum(1 for r in rs if r["rc"] == 0)
        failed = sum(r["verdicts"].get("FAILED", 0) for r in rs)
        broken = sum(r["verdicts"].get("BROKEN", 0) for r in rs)
        polls = [p for r in rs for p in r["polls"]]
        walls = [r["wall_s"] for r in rs]
        print(
            f"pace {mode}: {ok}/{len(rs)} runs exit 0; FAILED claims {failed}, BROKEN claims "
            f"{broken}; polls per save window min {min(polls, default=0)}, median "
            f"{statistics.median(polls) if polls else 0:g}; wall median "
            f"{statistics.median(walls):.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
