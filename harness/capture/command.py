"""`qmaudit capture`: run the capture against an inventory and write the capture folder."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from harness.capture.collect import check_read_only, collect, open_for_capture
from harness.capture.store import INDEX, write_capture
from harness.errors import InputError
from harness.exits import command_name


def run_capture(
    target: str,
    out_dir: str,
    *,
    pseudonymise: bool = False,
    probes: Sequence[str] = (),
    since_hours: float = 24.0,
    out: TextIO | None = None,
) -> int:
    """Capture; exit 0 if every call gave a valid document, 1 if not (the folder is written)."""
    out = out or sys.stdout
    check_read_only(probes)
    folder = Path(out_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("--out", out_dir, "exists and is not an empty folder")
    if since_hours <= 0:
        raise InputError("--since-hours", str(since_hours), "must be a positive number")
    inventory, endpoints, guest = open_for_capture(target)

    def log(line: str) -> None:
        print(line, file=out, flush=True)

    result = collect(inventory, endpoints, guest, only=probes, since_hours=since_hours, log=log)
    write_capture(result, folder, pseudonymise=pseudonymise)
    counts: dict[str, int] = {}
    for call in result.calls:
        counts[call.outcome] = counts.get(call.outcome, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    skipped = [node for node, status in result.nodes.items() if status != "ok"]
    log(f"captured {len(result.calls)} probe call(s): {summary or 'none'}")
    if skipped:
        log(f"nodes not captured: {', '.join(skipped)} (see {folder / INDEX})")
    log(f"capture written to {folder} (index: {folder / INDEX})")
    log(f"re-check it offline: {command_name()} check-inventory --target replay:{folder}")
    complete = not skipped and counts.get("ok", 0) == len(result.calls)
    return 0 if complete else 1
