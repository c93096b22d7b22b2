"""`qmaudit run --target A --target B`: one audit per cluster in parallel, and their index."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from harness.errors import InputError
from harness.evidence.records import atomic_write, new_run_id
from harness.exits import Exit, last_line, worst_exit


def _pump(stream: IO[str], prefix: str, log: IO[str], lock: threading.Lock) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        with lock:
            print(f"{prefix} {line}", end="", flush=True)


def run_many(
    targets: Sequence[str],
    run_args: Sequence[str],
    reports_root: Path = Path("reports"),
) -> int:
    """One `qmaudit run` subprocess per target, all at once; index in reports/batches/."""
    if len({t.casefold() for t in targets}) != len(targets):
        raise InputError("--target", ", ".join(targets), "a target is given twice")
    batch = new_run_id()
    batch_dir = reports_root / "batches" / batch
    batch_dir.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, str, subprocess.Popen[str], IO[str]]] = []
    lock = threading.Lock()
    pumps = []
    # Separate processes: each audit has its own session, target and lab; the per-cluster lock
    # still keeps actions on one cluster one at a time if two targets name the same cluster.
    for target in targets:
        run_id = new_run_id()
        cmd = [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--target",
            target,
            "--run-id",
            run_id,
            *run_args,
        ]
        log = (batch_dir / f"{run_id}.log").open("w", encoding="utf-8")
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        pump = threading.Thread(
            target=_pump, args=(proc.stdout, f"[{target}]", log, lock), daemon=True
        )
        pump.start()
        pumps.append(pump)
        runs.append((target, run_id, proc, log))
    index: list[dict[str, Any]] = []
    for (target, run_id, proc, out), pump in zip(runs, pumps, strict=True):
        code = proc.wait()
        pump.join()
        out.close()
        index.append(
            {
                "target": target,
                "run_id": run_id,
                "run_dir": str((reports_root / run_id).resolve()),
                "exit_code": code,
                "log": str((batch_dir / f"{run_id}.log").resolve()),
            }
        )
    worst = worst_exit([int(r["exit_code"]) for r in index])
    doc = {
        "batch_id": batch,
        "runs": index,
        "exit_code": worst,
    }
    atomic_write(batch_dir / "index.json", (json.dumps(doc, indent=2) + "\n").encode())
    print(f"\n{'target':<40} {'run id':<22} exit")
    for r in index:
        print(f"{r['target']:<40} {r['run_id']:<22} {r['exit_code']}")
    print(f"qmaudit: index {batch_dir / 'index.json'}")
    if worst in {int(c) for c in Exit}:
        print(last_line(Exit(worst), "the most urgent of the runs above"))
    else:
        print(f"qmaudit: exit {worst}: a run did not finish (stopped by a signal)")
    return worst
