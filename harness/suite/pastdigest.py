"""The terminal digest of a passive run's history: past moves by cause, downtime, outliers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MAX_ROWS = 10


def _observed(records: Iterable[Mapping[str, Any]], key: str) -> Any:
    for rec in records:
        obs = rec.get("observations") or {}
        for phase in ("after", "before"):
            value = (obs.get(phase) or {}).get(key)
            if value is not None:
                return value
    return None


def history_digest(run_dir: Path) -> list[str]:
    """Lines saying what the history scenarios read (empty when none ran)."""
    from harness.audit.pastmoves import table
    from harness.errors import HarnessError
    from harness.evidence.manifest import read_records

    try:
        records = [r for r in read_records(run_dir) if r.get("checked") == "history"]
    except (OSError, ValueError, HarnessError):  # a digest never fails a run: the evidence stands
        return []
    window = _observed(records, "history window")
    figures = _observed(records, "downtime per move")
    if not window or not figures:
        return []
    span = f"{window.get('since_utc')} .. {window.get('until_utc')}"
    lines = [
        f"history {span}: {figures.get('moves', 0)} past move(s) by cause "
        f"{figures.get('by_cause', {})}, by kind {figures.get('by_kind', {})}"
    ]
    if window.get("nodes_not_read"):
        lines.append(f"  events not read on (Down): {', '.join(window['nodes_not_read'])}")
    down = figures.get("downtime_s")
    if down:
        lines.append(
            f"  downtime per move: min {down['min']} s, median {down['median']} s, "
            f"max {down['max']} s"
        )
    outliers = _observed(records, "outliers") or []
    if outliers:
        lines.append(f"  outliers ({len(outliers)}, all in the evidence):")
        lines += ["    " + line for line in table(outliers, MAX_ROWS).splitlines()]
    else:
        lines.append("  outliers: none")
    return lines
