"""The downtime-vs-memory plot and its least-squares fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.audit.fit import linear_fit
from harness.evidence.plot import downtime_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("xs", "ys", "slope", "intercept"),
    [
        ([1, 2, 4, 8], [17, 19, 23, 31], 2.0, 15.0),
        ([0.5, 1.5], [1.0, -1.0], -2.0, 2.0),
        ([1, 2, 3], [5, 5, 5], 0.0, 5.0),
    ],
)
def test_linear_fit_exact_lines(
    xs: list[float], ys: list[float], slope: float, intercept: float
) -> None:
    got = linear_fit(xs, ys)
    assert got == pytest.approx((slope, intercept, 1.0))


def test_linear_fit_noisy_line() -> None:
    xs = [1.0, 2.0, 4.0, 8.0, 16.0]
    ys = [17.5, 18.4, 23.6, 30.2, 47.3]
    slope, intercept, r2 = linear_fit(xs, ys)
    assert slope == pytest.approx(2.03, abs=0.05)
    assert intercept == pytest.approx(15.0, abs=1.0)
    assert 0.95 < r2 < 1.0


def test_linear_fit_no_relation_has_low_r2() -> None:
    _, _, r2 = linear_fit([1, 2, 3, 4], [1, -1, -1, 1])
    assert r2 == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("xs", "ys", "message"),
    [
        ([], [], "at least 2 points"),
        ([1.0], [2.0], "at least 2 points"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "different x"),
        ([1.0, 2.0], [1.0], "as many"),
        ([1.0, float("nan")], [1.0, 2.0], "finite"),
    ],
)
def test_linear_fit_errors(xs: list[float], ys: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        linear_fit(xs, ys)


def test_downtime_plot_writes_png(tmp_path: Path) -> None:
    points = [("vm-small", 1.0, 17.2), ("vm-medium", 4.0, 23.1), ("vm-large", 16.0, 47.0)]
    fit = linear_fit([p[1] for p in points], [p[2] for p in points])
    path = downtime_plot(points, fit, tmp_path / "plots" / "downtime.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5_000


def test_downtime_plot_without_fit_and_empty(tmp_path: Path) -> None:
    path = downtime_plot([("only", 2.0, 20.0)], None, tmp_path / "one.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="at least one point"):
        downtime_plot([], None, tmp_path / "none.png")
