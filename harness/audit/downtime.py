"""Downtime arithmetic: a move's expected outage, its poll pacing, its bound and clock signal."""

from __future__ import annotations

from collections.abc import Callable

from harness.audit.catalog import VmFacts
from harness.domain.storage import Throughput, expected_downtime_s
from harness.domain.thresholds import Thresholds

# A signal smaller than this many tolerances is too small to judge (BROKEN, not PASSED).
SIGNAL_FACTOR = 3.0


def expected_downtime(vm: VmFacts, throughput: Throughput | None, per_gib_s: float) -> float:
    """Save + restore time of the VM's memory at its storage's declared throughput, else the
    per-GiB downtime bound (an upper estimate)."""
    return expected_downtime_s(vm.memory_bytes, throughput, per_gib_s)


def expected_window(
    vms: list[VmFacts], throughput_for: Callable[[str], Throughput | None], per_gib_s: float
) -> float:
    """The shortest save window expected among `vms` (target seconds), to pace the polls.

    From the declared storage throughput where known, else from the downtime bound per GiB.
    """
    windows = []
    for vm in vms:
        tp = throughput_for(vm.path)
        if tp is not None:
            windows.append(tp.save_s(vm.memory_bytes))
        else:
            windows.append(vm.memory_gib * per_gib_s / 2)
    return max(0.05, min(windows, default=1.0))


def downtime_bound(vm: VmFacts, throughput: Throughput | None, th: Thresholds) -> float:
    """The downtime a move of `vm` may take: the per-GiB bound plus the allowance, tightened to
    the declared throughput's save + restore time (times its tolerance) where one is declared."""
    bound = th.max_downtime_per_gib_s * vm.memory_gib + th.downtime_allowance_s
    if throughput is not None:
        model = expected_downtime_s(vm.memory_bytes, throughput, th.max_downtime_per_gib_s)
        bound = min(bound, model * th.throughput_tolerance + th.downtime_allowance_s)
    return bound
