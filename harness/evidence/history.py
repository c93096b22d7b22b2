"""The nightly history: qmaudit's per-run index (JSONL) and Allure 3's history file, pruned."""

from __future__ import annotations

import collections
import itertools
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.errors import InputError
from harness.evidence.manifest import claim_verdicts
from harness.redact import redact_values

INDEX_NAME = "index.jsonl"
ALLURE_HISTORY_NAME = "allure-history.jsonl"
DEFAULT_KEEP = 30
INDEX_VERSION = 1

# The key measurements of a run, each taken from the evidence records' measurements by name
# (steps/checks_*.py write them); per-VM names end with the suffix after "<vm>: ".
# Several records or VMs: the largest value counts, since each is "more is worse".
KEY_MEASUREMENTS: dict[str, tuple[str, str]] = {
    "downtime_per_gib": ("downtime per GiB (fit slope)", "s/GiB"),
    "downtime_intercept": ("fit intercept", "s"),
    "fit_quality": ("fit quality", "r2"),
    "clock_lag": ("clock lag gained", "s"),
    "network_bytes_per_gib": ("bytes sent per GiB of memory", "bytes/GiB"),
}


def scenario_key(record: dict[str, Any]) -> str:
    """A scenario's identity across runs: claim, name and example parameters."""
    params = record.get("params") or {}
    suffix = "".join(f" [{k}={params[k]}]" for k in sorted(params))
    return f"{record.get('claim')} {record.get('scenario')}{suffix}"


def key_measurements(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """The run's key measurements (KEY_MEASUREMENTS) found in its evidence records."""
    out: dict[str, float] = {}
    for rec in records:
        for name, entry in (rec.get("measurements") or {}).items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            for key, (suffix, _unit) in KEY_MEASUREMENTS.items():
                if name == suffix or name.endswith(f": {suffix}"):
                    out[key] = max(out.get(key, float(value)), float(value))
    return dict(sorted(out.items()))


def cluster_build(target: dict[str, Any] | None) -> str:
    """The cluster's OS build(s) as one string (nodes may differ during a rolling upgrade)."""
    nodes = (target or {}).get("nodes") if isinstance(target, dict) else None
    nodes = [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
    builds = sorted({str(n.get("os_build")) for n in nodes})
    return ",".join(b for b in builds if b and b != "None")


def identity(entry: dict[str, Any]) -> tuple[str, str]:
    """A run's target identity: its kind (lab, cluster) and its cluster name, case-folded."""
    return str(entry.get("kind") or ""), str(entry.get("cluster") or "").casefold()


def run_entry(run_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]]) -> dict:
    """The index entry of one finished run, from its manifest and its evidence records."""
    target = manifest.get("target") or {}
    scenarios: dict[str, str] = {}
    for rec in records:
        scenarios[scenario_key(rec)] = str(rec.get("verdict"))
    return {
        "index_version": INDEX_VERSION,
        "run_id": manifest["run_id"],
        "run_dir": str(Path(run_dir).resolve()),
        "created_utc": manifest.get("created_utc"),
        "target_spec": (manifest.get("extra") or {}).get("target_spec") or target.get("spec"),
        "cluster": target.get("cluster"),
        "kind": target.get("kind"),
        "harness_version": manifest.get("harness_version"),
        "cluster_build": cluster_build(target),
        "claims": claim_verdicts(records),
        "scenarios": dict(sorted(scenarios.items())),
        "measurements": key_measurements(records),
    }


MAX_LINE = 1 << 20  # one index entry (a run of a few hundred scenarios is ~50 KB)
MAX_LINES = 100_000
_TEXT_FIELDS = ("run_dir", "created_utc", "target_spec", "cluster", "kind", "harness_version")


def entry_problem(doc: Any) -> str | None:
    """Why a parsed index line is not a history entry qmaudit wrote, or None if it is one."""
    if not isinstance(doc, dict):
        return "not an object"
    if not isinstance(doc.get("run_id"), str) or not doc["run_id"]:
        return "no run_id string"
    for name in _TEXT_FIELDS:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            return f"{name} is not a string"
    if doc.get("cluster_build") is not None and not isinstance(doc["cluster_build"], str):
        return "cluster_build is not a string"
    for name in ("claims", "scenarios"):
        value = doc.get(name, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return f"{name} is not an object of strings"
    measurements = doc.get("measurements", {})
    if not isinstance(measurements, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in measurements.values()
    ):
        return "measurements is not an object of finite numbers"
    return None


@dataclass
class History:
    """The folder holding the index and the Allure history of the runs audited into it."""

    folder: Path
    problems: list[str] = field(default_factory=list)

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_NAME

    @property
    def allure_path(self) -> Path:
        return self.folder / ALLURE_HISTORY_NAME

    def entries(self) -> list[dict[str, Any]]:
        """Every well-formed entry, oldest first; any other line is skipped and noted.

        Streamed and bounded: a line longer than MAX_LINE or lines past MAX_LINES are skipped
        too, so a damaged or hostile index costs a notice, never the run's finishing steps.
        """
        self.problems = []
        path = self.index_path
        try:
            if not path.is_file():
                return []
            handle = path.open("rb")
        except OSError as exc:
            self.problems.append(f"{path}: unreadable ({exc.strerror}): history ignored")
            return []
        out: list[dict[str, Any]] = []
        with handle:
            for number in itertools.count(1):
                try:
                    line = handle.readline(MAX_LINE + 1)
                except OSError as exc:
                    self.problems.append(f"{path}:{number}: unreadable ({exc.strerror})")
                    break
                if not line:
                    break
                if number > MAX_LINES:
                    self.problems.append(f"{path}: more than {MAX_LINES} lines: the rest ignored")
                    break
                if len(line) > MAX_LINE:
                    self.problems.append(f"{path}:{number}: longer than {MAX_LINE} bytes: ignored")
                    while line and not line.endswith(b"\n"):  # skip the rest of the line
                        line = handle.readline(MAX_LINE)
                    continue
                if not line.strip():
                    continue
                torn = not line.endswith(b"\n")
                try:
                    doc = json.loads(line)
                except (ValueError, RecursionError):
                    doc = None
                problem = "not JSON" if doc is None else entry_problem(doc)
                if problem is not None:
                    if torn and doc is None:
                        problem = "torn last line (a run stopped while writing it)"
                    self.problems.append(f"{path}:{number}: {problem}: ignored")
                    continue
                out.append(doc)
        return out

    def append(self, entry: dict[str, Any], keep: int = DEFAULT_KEEP) -> list[dict[str, Any]]:
        """Add a run (fsynced), then keep the newest `keep` runs; the entries kept."""
        if keep < 1:
            raise InputError("--history-keep", repr(keep), "must be at least 1")
        self.folder.mkdir(parents=True, exist_ok=True)
        # Several runs (one per cluster, same night) share the history: one writer at a time.
        with FileLock(self.folder / ".lock", mode=0o600):
            entries = [e for e in self.entries() if e.get("run_id") != entry["run_id"]]
            entries.append(entry)
            entries = entries[-keep:]
            self._rewrite(
                self.index_path, [json.dumps(redact_values(e), sort_keys=True) for e in entries]
            )
            self.prune_allure(keep)
        return entries

    def prune_allure(self, keep: int) -> None:
        """Keep the last `keep` lines of Allure's history file (one line per report); streamed."""
        path = self.allure_path
        if not path.is_file():
            return
        good: collections.deque[str] = collections.deque(maxlen=keep)
        total = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                total += 1
                try:
                    line = raw.decode("utf-8").strip()
                    json.loads(line)
                except (ValueError, RecursionError):
                    self.problems.append(f"{path}:{number}: not JSON (torn?): dropped")
                    continue
                good.append(line)
        if len(good) != total:
            self._rewrite(path, list(good))

    def runs_of(self, target: str | None) -> list[dict[str, Any]]:
        """The runs of one target identity (kind and cluster), oldest first (docs/history.md).

        `target` names a cluster or a target spec (None: the newest run's); when runs of that
        name have different kinds (the lab named like a real cluster), the newest matching
        run's kind is the one meant. Runs of another kind never join.
        """
        matching = self.for_target(target)
        if not matching:
            return []
        newest = identity(matching[-1])
        return [e for e in matching if identity(e) == newest]

    def for_target(self, cluster: str | None) -> list[dict[str, Any]]:
        """The entries of one cluster (case-insensitive, like Windows names), oldest first."""
        entries = self.entries()
        if cluster is None:
            return entries
        want = cluster.casefold()
        return [
            e
            for e in entries
            if str(e.get("cluster") or "").casefold() == want
            or str(e.get("target_spec") or "").casefold() == want
        ]

    @staticmethod
    def _rewrite(path: Path, lines: list[str]) -> None:
        # Write a sibling then rename: a crash leaves the old file or the new one, never half.
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def allure_config(history: History, keep: int, out_dir: Path, base: Path) -> Path:
    """A per-run Allure config: the project's allurerc.mjs plus historyPath/historyLimit."""
    # Allure 3 reads the previous reports' results from historyPath and appends this one;
    # historyLimit caps what it keeps. The base config stays the one source for everything else.
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "allurerc.mjs"
    text = (
        "// Written by qmaudit run --history: the project's config plus the nightly history.\n"
        f"import base from {json.dumps(base.resolve().as_uri())};\n"
        "export default {\n"
        "  ...base,\n"
        f"  historyPath: {json.dumps(str(history.allure_path.resolve()))},\n"
        f"  historyLimit: {int(keep)},\n"
        "};\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def record_run(
    run_dir: Path, history_dir: Path, keep: int = DEFAULT_KEEP
) -> tuple[Path, list[str]]:
    """After a run (manifest written): index it, plot the target's trend into the run's Allure
    results, and write the Allure config carrying the history. (config path, notes)."""
    # Imported here: trend and allure import this module's neighbours, not the other way round.
    from harness.evidence.allure import base_config, write_global_attachments
    from harness.evidence.manifest import MANIFEST_NAME, read_records
    from harness.evidence.trend import write_trend

    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    history = History(Path(history_dir))
    entry = run_entry(run_dir, manifest, read_records(run_dir))
    history.append(entry, keep)
    notes = list(history.problems)
    runs = [e for e in history.entries() if identity(e) == identity(entry)][-keep:]
    plots, flaky = write_trend(runs, run_dir / "trend")
    write_global_attachments(run_dir / "allure-results", [(p, p.stem) for p in plots])
    notes += [f"flaky claim {claim}: {'; '.join(changes)}" for claim, changes in flaky.items()]
    config = allure_config(history, keep, run_dir / "trend", base_config())
    return config, notes
