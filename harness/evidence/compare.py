"""`qmaudit compare`: what changed between two runs (verdicts, scenarios, key measurements)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.evidence.history import KEY_MEASUREMENTS, History, run_entry
from harness.evidence.manifest import MANIFEST_NAME, file_sha256, read_records
from harness.evidence.records import EvidenceError, atomic_write
from harness.evidence.verdicts import RANK as VERDICT_RANK
from harness.exits import Exit
from harness.redact import redact, redact_values

# Relative change beyond which a key measurement "moved", and an absolute floor under which a
# change is noise whatever its ratio (an intercept near 0 s makes every ratio huge).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "downtime_per_gib": 0.20,
    "downtime_intercept": 0.30,
    "clock_lag": 0.30,
    "network_bytes_per_gib": 0.50,
    "fit_quality": 0.05,
}
FLOORS: dict[str, float] = {
    "downtime_per_gib": 0.01,
    "downtime_intercept": 0.5,
    "clock_lag": 1.0,
    "network_bytes_per_gib": float(1 << 20),
    "fit_quality": 0.02,
}
# For these, a smaller value is the worse one.
LOWER_IS_WORSE = frozenset({"fit_quality"})
BAD = ("failed", "broken")


@dataclass
class LoadedRun:
    """A run folder checked against its manifest, summarised as a history entry."""

    run_dir: Path
    entry: dict[str, Any]


@dataclass
class Comparison:
    """The differences between run A (before) and run B (after)."""

    a: dict[str, Any]
    b: dict[str, Any]
    claims: list[dict[str, Any]] = field(default_factory=list)
    new_scenarios: list[str] = field(default_factory=list)
    removed_scenarios: list[str] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def regressions(self) -> list[str]:
        """One line per regressed claim or measurement."""
        out = [f"claim {c['claim']}: {c['a']} -> {c['b']}" for c in self.claims if c["regression"]]
        out += [
            f"measurement {m['name']}: {m['a']:.4g} -> {m['b']:.4g} {m['unit']} "
            f"({m['change']:+.0%}, threshold {m['threshold']:.0%})"
            for m in self.measurements
            if m["regression"]
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        keep = ("run_id", "run_dir", "target_spec", "cluster", "harness_version", "cluster_build")
        return {
            "compare_version": 1,
            "a": {k: self.a.get(k) for k in keep},
            "b": {k: self.b.get(k) for k in keep},
            "regression": bool(self.regressions),
            "regressions": self.regressions,
            "claims": self.claims,
            "new_scenarios": self.new_scenarios,
            "removed_scenarios": self.removed_scenarios,
            "measurements": self.measurements,
            "thresholds": self.thresholds,
        }


def parse_thresholds(items: Sequence[str]) -> dict[str, float]:
    """`NAME=FRACTION` overrides (e.g. downtime_per_gib=0.3) on top of DEFAULT_THRESHOLDS."""
    out = dict(DEFAULT_THRESHOLDS)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in DEFAULT_THRESHOLDS:
            known = ", ".join(DEFAULT_THRESHOLDS)
            raise InputError(
                "--threshold", repr(item), f"expected NAME=FRACTION, NAME one of {known}"
            )
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number > 0:
            raise InputError("--threshold", repr(item), "the fraction must be a positive number")
        out[name] = number
    return out


MAX_MANIFEST_BYTES = 64 << 20
MAX_MANIFEST_FILES = 100_000


def _safe_rel(rel: Any) -> str | None:
    """A manifest path that stays inside the run folder, or None."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        return None
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        return None
    return rel


def _record_problem(record: dict[str, Any]) -> str | None:
    """What makes an evidence record unusable for a comparison (the fields it reads)."""
    for key in ("claim", "scenario", "verdict"):
        if not isinstance(record.get(key), str):
            return f"{key} is not a string"
    for key in ("params", "measurements", "target"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            return f"{key} is not an object"
    if record.get("vms") is not None and not isinstance(record["vms"], list):
        return "vms is not a list"
    return None


def load_run(run_dir: Path) -> LoadedRun:
    """Read a run folder; InputError if its manifest is missing, corrupt or does not match.

    Bounded: the manifest is read up to MAX_MANIFEST_BYTES, files are hashed in chunks, and
    only regular files inside the folder are read (no symlink, FIFO or `..` is followed).
    """
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST_NAME
    if not path.is_file():
        raise InputError(str(path), "", "no manifest: not a finished qmaudit run folder")
    try:
        manifest = json.loads(read_bounded(path, MAX_MANIFEST_BYTES, what="manifest"))
    except (ValueError, RecursionError) as exc:
        raise InputError(str(path), "", f"manifest unreadable: {type(exc).__name__}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise InputError(str(path), "$.files", "not a qmaudit manifest")
    if not isinstance(manifest.get("run_id"), str):
        raise InputError(str(path), "$.run_id", "not a qmaudit manifest (no run id)")
    for key in ("target", "extra"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise InputError(str(path), f"$.{key}", "must be an object")
    if len(manifest["files"]) > MAX_MANIFEST_FILES:
        raise InputError(str(path), "$.files", f"more than {MAX_MANIFEST_FILES} files")
    listed: set[str] = set()
    for i, item in enumerate(manifest["files"]):
        rel = _safe_rel(item.get("path") if isinstance(item, dict) else None)
        if rel is None:
            raise InputError(str(path), f"$.files[{i}]", "not a path inside the run folder")
        if rel in listed:
            raise InputError(str(path), f"$.files[{i}]", f"{rel} is listed twice")
        listed.add(rel)
        file = run_dir / rel
        try:
            link, regular = file.is_symlink(), file.is_file()
        except OSError as exc:  # a name too long for the file system, ...
            raise InputError(str(path), f"$.files[{i}]", f"unusable path: {exc.strerror}") from None
        if link or not regular:
            what = "a symlink" if link else "missing (or not a regular file)"
            raise InputError(str(path), f"$.files[{i}]", f"{rel} is {what} in the run folder")
        if file_sha256(file) != item.get("sha256"):
            reason = f"{rel} does not match the manifest (SHA-256 differs: changed after the run)"
            raise InputError(str(path), f"$.files[{i}]", reason)
    for file in sorted((run_dir / "evidence").glob("*.json")):
        rel = file.relative_to(run_dir).as_posix()
        if rel not in listed:
            raise InputError(
                str(path), "$.files", f"{rel} is in the folder but not in the manifest"
            )
    try:
        records = read_records(run_dir)
    except EvidenceError as exc:
        raise InputError(str(run_dir), "evidence", f"{exc.location}: {exc.reason}") from None
    for number, record in enumerate(records, start=1):
        problem = _record_problem(record)
        if problem is not None:
            raise InputError(str(run_dir), f"evidence record {number}", problem)
    if not records:
        reason = "no evidence record (deleted, or no scenario ran): nothing to compare"
        raise InputError(str(run_dir), "evidence", reason)
    return LoadedRun(run_dir, run_entry(run_dir, manifest, records))


def resolve_run(ref: str, history: History, reports_root: Path) -> Path:
    """A run folder from a folder path or a run id (history index, else reports/<id>)."""
    path = Path(ref)
    if path.is_dir():
        return path
    for entry in reversed(history.entries()):
        if entry.get("run_id") == ref and Path(entry.get("run_dir", "")).is_dir():
            return Path(entry["run_dir"])
    if (reports_root / ref).is_dir():
        return reports_root / ref
    raise InputError(ref, "", "no such run folder or run id (looked in the history index too)")


def last_two(history: History, target: str | None) -> tuple[Path, Path]:
    """The newest two runs of one target identity (kind and cluster; default: the newest run)."""
    runs = [e for e in history.runs_of(target) if Path(e.get("run_dir", "")).is_dir()]
    if len(runs) < 2:
        newest = (history.runs_of(target) or [{}])[-1]
        kind, cluster = newest.get("kind"), newest.get("cluster")
        what = f"{kind} target {cluster!r}" if cluster else f"target {target!r}"
        reason = f"fewer than two runs of {what} in the history ({len(runs)} found)"
        raise InputError(str(history.index_path), "", reason)
    return Path(runs[-2]["run_dir"]), Path(runs[-1]["run_dir"])


def same_target(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same cluster (names compare case-insensitively, like Windows) and same kind."""
    return str(a.get("cluster") or "").casefold() == str(
        b.get("cluster") or ""
    ).casefold() and a.get("kind") == b.get("kind")


def compare_entries(
    a: dict[str, Any], b: dict[str, Any], thresholds: Mapping[str, float]
) -> Comparison:
    """Claims that changed verdict, scenarios new/removed, measurements beyond thresholds."""
    out = Comparison(a, b, thresholds=dict(thresholds))
    ca, cb = a.get("claims") or {}, b.get("claims") or {}
    for claim in sorted(set(ca) | set(cb)):
        va, vb = ca.get(claim, "not run"), cb.get(claim, "not run")
        if va == vb:
            continue
        worse = VERDICT_RANK.get(vb, -1) > VERDICT_RANK.get(va, -1)
        regression = vb in BAD and (va not in BAD or worse)
        out.claims.append({"claim": claim, "a": va, "b": vb, "regression": regression})
    sa, sb = set(a.get("scenarios") or {}), set(b.get("scenarios") or {})
    out.new_scenarios = sorted(sb - sa)
    out.removed_scenarios = sorted(sa - sb)
    ma, mb = a.get("measurements") or {}, b.get("measurements") or {}
    for name in sorted(set(ma) & set(mb)):
        va, vb = float(ma[name]), float(mb[name])
        rel = thresholds.get(name, DEFAULT_THRESHOLDS.get(name, 0.2))
        limit = max(rel * abs(va), FLOORS.get(name, 0.0))
        delta = vb - va
        moved = abs(delta) > limit
        worse = delta < 0 if name in LOWER_IS_WORSE else delta > 0
        change = delta / abs(va) if va else (float("inf") if delta else 0.0)
        out.measurements.append(
            {
                "name": name,
                "unit": KEY_MEASUREMENTS.get(name, ("", ""))[1],
                "a": va,
                "b": vb,
                "change": change if change != float("inf") else None,
                "threshold": rel,
                "moved": moved,
                "regression": moved and worse,
            }
        )
    return out


def render_table(cmp: Comparison) -> str:
    """The comparison as plain text for the terminal."""
    lines = [
        f"A  {cmp.a['run_id']}  {cmp.a.get('cluster')}  qmaudit {cmp.a.get('harness_version')}",
        f"B  {cmp.b['run_id']}  {cmp.b.get('cluster')}  qmaudit {cmp.b.get('harness_version')}",
        "",
        "claim  A        B        ",
    ]
    for c in cmp.claims:
        mark = "  REGRESSION" if c["regression"] else ""
        lines.append(f"{c['claim']}  {c['a'].upper():<8} {c['b'].upper():<8}{mark}")
    if not cmp.claims:
        lines.append("(no claim changed verdict)")
    lines += ["", f"{'measurement':<24} {'A':>12} {'B':>12} {'change':>8}  threshold"]
    for m in cmp.measurements:
        change = f"{m['change']:+.0%}" if m["change"] is not None else "n/a"
        mark = "  REGRESSION" if m["regression"] else ("  moved" if m["moved"] else "")
        lines.append(
            f"{m['name']:<24} {m['a']:>12.4g} {m['b']:>12.4g} {change:>8}  "
            f"{m['threshold']:.0%}{mark}"
        )
    for title, items in (("new", cmp.new_scenarios), ("removed", cmp.removed_scenarios)):
        lines += [f"scenario {title}: {s}" for s in items]
    return "\n".join(lines)


def render_markdown(cmp: Comparison) -> str:
    """The comparison as Markdown (for a CI summary or a ticket)."""
    a, b = cmp.a, cmp.b
    md = [
        f"# qmaudit compare: {a['run_id']} -> {b['run_id']}",
        "",
        f"Target: {b.get('cluster')} ({b.get('target_spec')}); "
        f"qmaudit {a.get('harness_version')} -> {b.get('harness_version')}; "
        f"cluster build {a.get('cluster_build') or '?'} -> {b.get('cluster_build') or '?'}",
        "",
        f"**{'REGRESSION' if cmp.regressions else 'No regression'}**",
        "",
        *[f"- {r}" for r in cmp.regressions],
        "",
        "| claim | A | B | regression |",
        "|---|---|---|---|",
        *[
            f"| {c['claim']} | {c['a']} | {c['b']} | {'yes' if c['regression'] else ''} |"
            for c in cmp.claims
        ],
        "",
        "| measurement | A | B | change | threshold | regression |",
        "|---|---|---|---|---|---|",
    ]
    for m in cmp.measurements:
        change = f"{m['change']:+.1%}" if m["change"] is not None else "n/a"
        md.append(
            f"| {m['name']} ({m['unit']}) | {m['a']:.4g} | {m['b']:.4g} | {change} | "
            f"{m['threshold']:.0%} | {'yes' if m['regression'] else ''} |"
        )
    md += ["", *[f"- new scenario: {s}" for s in cmp.new_scenarios]]
    md += [f"- removed scenario: {s}" for s in cmp.removed_scenarios]
    return "\n".join(md).rstrip() + "\n"


def run_compare(
    refs: Sequence[str],
    *,
    last: bool = False,
    target: str | None = None,
    history_dir: Path = Path("reports/history"),
    reports_root: Path = Path("reports"),
    thresholds: Sequence[str] = (),
    force: bool = False,
    out_dir: Path | None = None,
) -> int:
    """Compare two runs; print the table, write compare.json and compare.md. Exit code."""
    limits = parse_thresholds(thresholds)
    history = History(Path(history_dir))
    if last:
        if refs:
            raise InputError("compare", "RUN", "give either two runs or --last, not both")
        dir_a, dir_b = last_two(history, target)
    elif len(refs) == 2:
        dir_a, dir_b = (resolve_run(r, history, reports_root) for r in refs)
    else:
        raise InputError("compare", "RUN", "give two runs (folders or ids) or --last")
    for problem in history.problems:
        print(f"qmaudit compare: warning: {problem}")
    run_a, run_b = load_run(dir_a), load_run(dir_b)
    if not same_target(run_a.entry, run_b.entry) and not force:
        reason = (
            f"the runs audited different targets ({run_a.entry.get('cluster')!r}, "
            f"{run_a.entry.get('kind')} vs {run_b.entry.get('cluster')!r}, "
            f"{run_b.entry.get('kind')}): refused (use --force to compare anyway)"
        )
        raise InputError(f"{dir_a} / {dir_b}", "$.target", reason)
    cmp = compare_entries(run_a.entry, run_b.entry, limits)
    print(render_table(cmp))
    out = Path(out_dir) if out_dir else run_b.run_dir / "compare"
    doc = redact_values(cmp.to_dict())
    atomic_write(out / "compare.json", (json.dumps(doc, indent=2) + "\n").encode())
    atomic_write(out / "compare.md", redact(render_markdown(cmp)).encode("utf-8"))
    print(f"\nqmaudit compare: {out / 'compare.json'}, {out / 'compare.md'}")
    if cmp.regressions:
        for line in cmp.regressions:
            print(f"qmaudit compare: REGRESSION {line}")
        return 1
    gone = [c["claim"] for c in cmp.claims if c["b"] == "not run" and c["a"] != "skipped"]
    if gone:
        print(
            f"qmaudit compare: NOT COMPARED: claims judged in A have no verdict in B: "
            f"{', '.join(gone)} (no regression can be claimed for them)"
        )
        return int(Exit.NOT_JUDGED)
    print("qmaudit compare: no regression")
    return 0
