"""Load-time plausibility: topology figures that would make the time model meaningless.

A move saves a VM's memory to storage and restores it; a throughput or rule parameter under
which that would take longer than a day (1e-300 MB/s, a slowdown factor of 1e300) does not model
any cluster: such a file is refused when loaded, naming the place, instead of every scenario
ending BROKEN with an OverflowError.
"""

from __future__ import annotations

import math
from typing import Any

from harness.errors import InputError

MB = 1_000_000
MIB = 1024 * 1024
MAX_MOVE_S = 86_400.0  # one day: a quick migration of any VM takes seconds to minutes
MAX_FACTOR = 1000.0  # the largest slowdown a rule parameter may ask for
_DEFAULT_FACTOR = 10.0


def _move_seconds(memory_bytes: float, mb_s: float) -> float:
    return memory_bytes / (mb_s * MB) if mb_s > 0 else math.inf


def check_plausible(t: Any) -> None:
    """InputError(file, place, reason) for the first figure that makes the model meaningless."""
    src = t.source
    largest = max((v.memory_mib for v in t.vms), default=1024) * MIB
    factor = 1.0
    for i, rule in enumerate(t.rules_off):
        for key, value in (rule.params or {}).items():
            where = f"$.rules_off[{i}].params.{key}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value):
                raise InputError(src, where, "must be a finite number")
            if key == "factor":
                if not 1.0 <= value <= MAX_FACTOR:
                    reason = f"a slowdown factor must be between 1 and {MAX_FACTOR:g}"
                    raise InputError(src, where, f"{value!r}: {reason}")
                factor = max(factor, float(value))
        if rule.rule == "storage_speed_as_declared" and "factor" not in (rule.params or {}):
            factor = max(factor, _DEFAULT_FACTOR)

    rates: list[tuple[str, float]] = [("$.cluster.network_mb_s", t.cluster.network_mb_s)]
    for i, csv in enumerate(t.csvs):
        rates += [(f"$.storage.csvs[{i}].read_mb_s", csv.read_mb_s)]
        rates += [(f"$.storage.csvs[{i}].write_mb_s", csv.write_mb_s)]
    for i, disk in enumerate(t.cluster_disks):
        rates += [(f"$.storage.cluster_disks[{i}].read_mb_s", disk.read_mb_s)]
        rates += [(f"$.storage.cluster_disks[{i}].write_mb_s", disk.write_mb_s)]
    for i, share in enumerate(t.smb_shares):
        rates += [(f"$.storage.smb_shares[{i}].read_mb_s", share.read_mb_s)]
        rates += [(f"$.storage.smb_shares[{i}].write_mb_s", share.write_mb_s)]
    for i, node in enumerate(t.nodes):
        for j, local in enumerate(node.local_disks):
            rates += [(f"$.nodes[{i}].local_disks[{j}].read_mb_s", local.read_mb_s)]
            rates += [(f"$.nodes[{i}].local_disks[{j}].write_mb_s", local.write_mb_s)]
    for where, rate in rates:
        # Storage may run `factor` times slower under a rule; the network does not.
        slow = 1.0 if where.startswith("$.cluster") else factor
        seconds = _move_seconds(largest, rate / slow)
        if not seconds <= MAX_MOVE_S:
            reason = (
                f"{rate:g} MB/s: moving the largest VM ({largest / MIB:g} MiB"
                f"{f', {slow:g} times slower under a rule' if slow > 1 else ''}) would take "
                f"{seconds:.3g} s, more than a day: the time model would be meaningless"
            )
            raise InputError(src, where, reason)
