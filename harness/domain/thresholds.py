"""Audit thresholds with documented defaults; a target's configuration may override them."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from harness.errors import InputError

DAY_S = 86_400.0
_TIME = (0.001, DAY_S, "a bound under a millisecond no cluster meets, one over a day never ends")
# Values outside these ranges make the judgement meaningless: a bound no healthy cluster can
# meet would turn every run FAILED (a false finding), one beyond a day makes a wait never end.
PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "max_downtime_per_gib_s": _TIME,
    "downtime_allowance_s": _TIME,
    "throughput_tolerance": (1.0, 1000.0, "below 1 demands moves faster than the storage allows"),
    "min_fit_r2": (0.0, 1.0, "R² is at most 1"),
    "max_network_fraction": (0.0, 1.0, "a fraction of the VM's memory"),
    "off_vm_move_bound_s": _TIME,
    "clock_tolerance_s": _TIME,
    "time_sync_window_s": _TIME,
    "kvp_update_timeout_s": _TIME,
    "failover_timeout_s": _TIME,
    "move_timeout_s": _TIME,
}


@dataclass(frozen=True)
class Thresholds:
    """Bounds the scenarios judge against. Times are seconds of the target's own clock."""

    # QM-09: downtime bound per GiB of memory when the storage throughput is not declared.
    max_downtime_per_gib_s: float = 15.0
    # QM-09: fixed allowance added to every downtime bound (cluster bookkeeping, resource online).
    downtime_allowance_s: float = 5.0
    # QM-09: measured downtime may exceed memory/write + memory/read by this factor.
    throughput_tolerance: float = 1.5
    # QM-09: minimum fit quality (R²) of downtime against memory size.
    min_fit_r2: float = 0.9
    # QM-09: bytes crossing the network during a quick migration, as a fraction of VM memory.
    max_network_fraction: float = 0.05
    # QM-08: a VM that is off must move within this bound.
    off_vm_move_bound_s: float = 2.0
    # QM-15: clock agreement tolerance, and lag tolerance around the measured downtime.
    clock_tolerance_s: float = 2.0
    # QM-15: time allowed for working time sync to correct the guest clock after resume.
    time_sync_window_s: float = 60.0
    # QM-14: time allowed for the KVP host name to show the new host.
    kvp_update_timeout_s: float = 30.0
    # QM-19: time allowed for a crashed node's VM to run again elsewhere.
    failover_timeout_s: float = 120.0
    # Any move or drain must complete within this time.
    move_timeout_s: float = 900.0

    def with_overrides(self, overrides: dict[str, Any], source: str) -> Thresholds:
        """A copy with the given values; unknown names or non-positive values are InputErrors."""
        known = {f.name for f in fields(self)}
        values: dict[str, float] = {}
        for key, value in overrides.items():
            if key not in known:
                raise InputError(source, f"$.thresholds.{key}", "unknown threshold")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InputError(source, f"$.thresholds.{key}", "must be a positive number")
            low, high, why = PLAUSIBLE.get(key, (0.0, DAY_S, "longer than a day"))
            if not low <= value <= high:
                reason = f"{value!r} is outside {low:g}..{high:g}: {why}"
                raise InputError(source, f"$.thresholds.{key}", reason)
            values[key] = float(value)
        return replace(self, **values)

    def as_dict(self) -> dict[str, float]:
        """Name -> value."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}
