"""`qmaudit trend`: plots of key measurements and claim verdicts over runs, and flaky claims."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import matplotlib

# Headless (build agents, SSH): the backend is chosen before pyplot is imported.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap

from harness.domain.claims import CLAIMS
from harness.errors import InputError
from harness.evidence.history import History
from harness.evidence.records import atomic_write
from harness.redact import redact_values

MAX_RUNS = 500  # one plot: past this the strips are thinner than a pixel anyway
MAX_WIDTH_IN = 40.0  # figure width cap (inches at 100 dpi): memory stays bounded whatever --runs
VERDICT_CODES = {"not run": 0, "skipped": 1, "passed": 2, "broken": 3, "failed": 4}
VERDICT_COLOURS = ["#eeeeee", "#bbbbbb", "#4caf50", "#ffb300", "#e53935"]


def _setup(entry: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (entry.get("harness_version"), entry.get("cluster_build"), entry.get("target_spec"))


def flaky_claims(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Claims whose verdict changed between consecutive runs with the same qmaudit version,
    cluster build and target spec: nothing we know of changed, so the verdict is unstable."""
    # The target spec is part of "what changed": a lab topology file (rules switched off) or
    # another inventory is a different cluster configuration even at the same OS build.
    out: dict[str, list[str]] = {}
    for prev, cur in itertools.pairwise(entries):
        if _setup(prev) != _setup(cur):
            continue
        for claim in sorted(set(prev.get("claims", {})) & set(cur.get("claims", {}))):
            va, vb = prev["claims"][claim], cur["claims"][claim]
            if va != vb and "skipped" not in (va, vb):
                out.setdefault(claim, []).append(f"{prev['run_id']} {va} -> {cur['run_id']} {vb}")
    return out


def _labels(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e["run_id"])[:15] for e in entries]


def _series(entries: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, e in enumerate(entries):
        value = (e.get("measurements") or {}).get(key)
        if isinstance(value, int | float):
            xs.append(i)
            ys.append(float(value))
    return xs, ys


def _axes_runs(ax: Any, labels: list[str]) -> None:
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.grid(True, alpha=0.3)


def plot_downtime(entries: list[dict[str, Any]], path: Path) -> Path:
    """Downtime per GiB and intercept over runs, with the fit quality (r2) below."""
    labels = _labels(entries)
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(8, 7), dpi=100, sharex=True)
    try:
        for ax, key, title, unit in (
            (top, "downtime_per_gib", "downtime per GiB (fit slope)", "s/GiB"),
            (mid, "downtime_intercept", "downtime intercept", "s"),
            (low, "fit_quality", "fit quality", "r²"),
        ):
            xs, ys = _series(entries, key)
            ax.plot(xs, ys, marker="o", color="tab:blue")
            ax.set_ylabel(unit)
            ax.set_title(title, fontsize=9)
            _axes_runs(ax, labels)
        fig.suptitle("QM-09 over runs: downtime vs memory")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def plot_clock_network(entries: list[dict[str, Any]], path: Path) -> Path:
    """Guest clock lag gained by a move, and bytes sent per GiB of memory, over runs."""
    labels = _labels(entries)
    fig, (top, low) = plt.subplots(2, 1, figsize=(8, 5.5), dpi=100, sharex=True)
    try:
        for ax, key, title, unit in (
            (top, "clock_lag", "guest clock lag gained by a move (largest)", "s"),
            (low, "network_bytes_per_gib", "bytes sent per GiB of memory (largest)", "bytes/GiB"),
        ):
            xs, ys = _series(entries, key)
            ax.plot(xs, ys, marker="o", color="tab:purple")
            ax.set_ylabel(unit)
            ax.set_title(title, fontsize=9)
            _axes_runs(ax, labels)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def plot_verdicts(entries: list[dict[str, Any]], flaky: dict[str, list[str]], path: Path) -> Path:
    """One strip per claim: its verdict in each run (flaky claims marked)."""
    labels = _labels(entries)
    grid = [
        [VERDICT_CODES.get((e.get("claims") or {}).get(c, "not run"), 0) for e in entries]
        for c in CLAIMS
    ]
    width = min(MAX_WIDTH_IN, max(6.0, 0.6 * len(entries) + 3))
    fig, ax = plt.subplots(figsize=(width, 7), dpi=100)
    try:
        cmap = ListedColormap(VERDICT_COLOURS)
        ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0, vmax=len(VERDICT_COLOURS) - 1)
        ax.set_yticks(range(len(CLAIMS)))
        ax.set_yticklabels([f"{c} (flaky)" if c in flaky else c for c in CLAIMS], fontsize=7)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
        handles = [
            plt.Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS[code])
            for code in VERDICT_CODES.values()
        ]
        ax.legend(
            handles, list(VERDICT_CODES), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7
        )
        ax.set_title("claim verdicts over runs")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def write_trend(entries: list[dict[str, Any]], out_dir: Path) -> tuple[list[Path], dict]:
    """Write the three PNGs and trend.json into out_dir; (plots, flaky claims)."""
    entries = entries[-MAX_RUNS:]
    if not entries:
        raise InputError(str(out_dir), "", "no runs to plot")
    out_dir.mkdir(parents=True, exist_ok=True)
    flaky = flaky_claims(entries)
    plots = [
        plot_downtime(entries, out_dir / "trend-downtime.png"),
        plot_clock_network(entries, out_dir / "trend-clock-network.png"),
        plot_verdicts(entries, flaky, out_dir / "trend-verdicts.png"),
    ]
    doc = {
        "runs": [e["run_id"] for e in entries],
        "flaky": flaky,
        "measurements": {e["run_id"]: e.get("measurements", {}) for e in entries},
    }
    atomic_write(out_dir / "trend.json", (json.dumps(redact_values(doc), indent=2) + "\n").encode())
    return plots, flaky


def run_trend(history_dir: Path, target: str | None, runs: int, out_dir: Path | None = None) -> int:
    """`qmaudit trend`: plots of the last `runs` runs of a target; prints flaky claims."""
    if not 2 <= runs <= MAX_RUNS:
        raise InputError("--runs", repr(runs), f"must be between 2 and {MAX_RUNS}")
    history = History(Path(history_dir))
    entries = history.entries()
    if target is None and entries:
        target = entries[-1].get("cluster")
    chosen = history.runs_of(target)[-runs:]  # one kind and cluster: the lab never joins a cluster
    for problem in history.problems:
        print(f"qmaudit trend: warning: {problem}")
    if not chosen:
        raise InputError(str(history.index_path), "", f"no run of target {target!r} in the history")
    out = Path(out_dir) if out_dir else Path(history_dir) / "trend"
    plots, flaky = write_trend(chosen, out)
    kind, cluster = chosen[-1].get("kind"), chosen[-1].get("cluster")
    print(f"qmaudit trend: {len(chosen)} runs of {kind} target {cluster!r}")
    for path in plots:
        print(f"qmaudit trend: {path}")
    for claim, changes in flaky.items():
        print(f"qmaudit trend: FLAKY {claim}: " + "; ".join(changes))
    if not flaky:
        print("qmaudit trend: no flaky claim")
    return 0
