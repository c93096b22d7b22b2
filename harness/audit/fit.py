"""The downtime-against-memory fit (QM-09): the least-squares line and its quality."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.audit.moves import MoveOutcome


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares line y = slope*x + intercept and r2 = 1 - SSres/SStot."""
    if len(xs) != len(ys):
        raise ValueError(f"linear_fit needs as many x as y values, got {len(xs)} and {len(ys)}")
    if len(xs) < 2:
        raise ValueError(f"linear_fit needs at least 2 points, got {len(xs)}")
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        raise ValueError("linear_fit needs finite numbers")
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("linear_fit needs at least two different x values (all x are equal)")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    # All y equal: the horizontal line explains them exactly.
    r2 = 1.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot
    return slope, intercept, r2


def measure_fit(
    outcomes: list[MoveOutcome], evidence: Any
) -> tuple[list[tuple[str, float, float]], float, float, float]:
    """Fit downtime against memory and record slope, intercept and quality as measurements."""
    points = [(o.vm.name, o.vm.memory_gib, o.downtime_s or 0.0) for o in outcomes]
    slope, intercept, r2 = linear_fit([p[1] for p in points], [p[2] for p in points])
    evidence.measure("downtime per GiB (fit slope)", slope, "s/GiB")
    evidence.measure("fit intercept", intercept, "s")
    evidence.measure("fit quality", r2, "r2")
    return points, slope, intercept, r2
