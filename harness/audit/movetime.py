"""The move time of a VM that is off: within its bound, and independent of its memory (QM-08)."""

from __future__ import annotations

from typing import Any

from harness.audit.assertions import check, too_thin
from harness.audit.moves import MoveOutcome


def judge_bound(o: MoveOutcome, bound: float) -> None:
    """The move took no longer than `bound`; "too slow" needs a poll past the bound that still
    saw the move unfinished (the instant rule), else the evidence is too thin."""
    __tracebackhide__ = True
    if o.move_time_s is None:
        too_thin("no poll saw the VM settled on its new owner", **o.polls())
    # Instant rule: "too slow" needs a poll past the bound that still saw the move unfinished.
    at_least = o.move_time_min_s or 0.0
    if o.move_time_s > bound >= at_least:
        too_thin(
            "the move ended between two polls that straddle the bound",
            move_time_at_least_s=at_least,
            move_time_at_most_s=o.move_time_s,
            bound_s=bound,
            **o.polls(),
        )
    check(
        o.move_time_s <= bound,
        "a VM that is off must move almost instantly",
        move_time_s=o.move_time_s,
        move_time_at_least_s=at_least,
        bound_s=bound,
    )


def judge_memory(o: MoveOutcome, full: float, bound: float, evidence: Any) -> None:
    """The move took far less than saving and restoring the VM's memory (`full` seconds) would;
    not judged when `full` itself fits in `bound`."""
    __tracebackhide__ = True
    if full <= bound:
        # Saving and restoring this little memory would itself fit in the bound: the move time
        # cannot tell the two apart, and the bound (previous step) is the whole claim here.
        evidence.observe(
            "after", "memory independence", f"not judged: {full:.2f} s of memory time <= bound"
        )
        return
    at_least = o.move_time_min_s or 0.0
    if o.move_time_s is not None and o.move_time_s >= full / 2 > at_least:
        too_thin(
            "the move ended between two polls that straddle half the memory time",
            move_time_at_least_s=at_least,
            move_time_at_most_s=o.move_time_s,
            memory_time_s=full,
        )
    check(
        o.move_time_s is not None and o.move_time_s < full / 2,
        "an Off VM's move must take far less than saving and restoring its memory would",
        move_time_s=o.move_time_s,
        memory_time_s=full,
    )
