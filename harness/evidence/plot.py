"""The downtime-vs-memory plot (QM-09) and the least-squares line it shows (`harness.audit.fit`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

# Headless (build agents, SSH): the backend is chosen before pyplot is imported.
matplotlib.use("Agg")

import matplotlib.pyplot as plt


def downtime_plot(
    points: Sequence[tuple[str, float, float]],
    fit: tuple[float, float, float] | None,
    path: Path,
) -> Path:
    """Scatter of (vm, memory GiB, downtime s) with labels and the fit line; written as PNG."""
    if not points:
        raise ValueError("downtime_plot needs at least one point")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    try:
        xs = [p[1] for p in points]
        ys = [p[2] for p in points]
        ax.scatter(xs, ys, color="tab:blue", zorder=3, label="measured downtime")
        for vm, x, y in points:
            ax.annotate(vm, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        if fit is not None:
            slope, intercept, r2 = fit
            lo, hi = min(0.0, *xs), max(xs) * 1.05 if max(xs) > 0 else 1.0
            sign = "+" if intercept >= 0 else "-"
            ax.plot(
                [lo, hi],
                [slope * lo + intercept, slope * hi + intercept],
                color="tab:orange",
                label=f"t = {slope:.3g} s/GiB x M {sign} {abs(intercept):.3g} s  (r² = {r2:.3f})",
            )
        ax.set_xlabel("VM memory (GiB)")
        ax.set_ylabel("quick-migration downtime (s)")
        ax.set_title("QM-09: downtime vs memory size")
        ax.set_xlim(left=min(0.0, *xs))
        ax.set_ylim(bottom=min(0.0, *ys))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
