"""Then steps about the guest: no reboot, uptime, and its clock with and without time sync."""

from __future__ import annotations

import itertools

from pytest_bdd import given, then

from harness.audit.assertions import check, too_thin
from harness.audit.downtime import SIGNAL_FACTOR
from harness.audit.moves import MoveOutcome
from harness.run.scenario import Scenario


@then("the guest did not reboot")
def no_reboot(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    b, a = o.before.clock, o.after.clock
    state = o.after.details.state if o.after.details else None
    check(
        a is not None or state == "Running",
        "a running VM must be running again after the move",
        state_after=state,
    )
    if b is None or a is None:
        too_thin("the guest clock was not readable before and after the move", state_after=state)
    check(
        b.guest_last_boot == a.guest_last_boot,
        "the guest's last boot time must not change",
        before=b.guest_last_boot.isoformat(),
        after=a.guest_last_boot.isoformat(),
    )


@then("the VM's uptime continued")
def uptime_continued(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None and o.before.details and o.after.details
    check(
        o.after.details.uptime_s >= o.before.details.uptime_s,
        "the VM's uptime must continue across the move",
        before=o.before.details.uptime_s,
        after=o.after.details.uptime_s,
    )


@given("the guest clock's offset from the host clock is recorded")
def clock_offset(scn: Scenario) -> None:
    vm = scn.need_vm()
    owner = scn.inventory().group_of(vm.name).owner_node
    clock = scn.cluster.guest_clock(vm.name, owner)
    scn.evidence.measure("lag before the move", clock.lag_s, "s")
    scn.threshold("clock_tolerance_s", "clock tolerance", "s")


def _judgeable(scn: Scenario, signal_s: float, what: str) -> float:
    """The tolerance, if `signal_s` is at least SIGNAL_FACTOR tolerances; else BROKEN."""
    tol = float(scn.thresholds.clock_tolerance_s)
    if abs(signal_s) < SIGNAL_FACTOR * tol:
        too_thin(
            f"signal too small to judge: {what}",
            signal_s=signal_s,
            tolerance_s=tol,
            needed_s=SIGNAL_FACTOR * tol,
        )
    return tol


def _never_backwards(o: MoveOutcome) -> None:
    __tracebackhide__ = True
    b, a = o.before.clock, o.after.clock if o.after else None
    if b is None or a is None:
        too_thin("the guest clock was not readable before and after the move")
    check(
        a.guest_utc >= b.guest_utc,
        "the guest clock must never go backwards across a save and restore",
        guest_before=b.guest_utc.isoformat(),
        guest_after=a.guest_utc.isoformat(),
    )


@then("the guest clock lags the host clock by about the measured downtime")
def lag_is_downtime(scn: Scenario) -> None:
    o = scn.need_outcome()
    _never_backwards(o)
    assert o.after is not None and o.after.clock is not None and o.before.clock is not None
    lag = o.after.clock.lag_s - o.before.clock.lag_s
    scn.evidence.measure("clock lag gained", lag, "s")
    if o.downtime_s is None:
        too_thin("the downtime the lag is compared with was not measured", **o.polls())
    if o.downtime_source != "events":
        # Polls bound the downtime only from above (the window ended between two polls): a
        # difference from the lag would not be a contradiction seen at one instant.
        too_thin(
            "the downtime was measured from polls only, not from the cluster's own events",
            downtime_s=o.downtime_s,
            **o.polls(),
        )
    # The downtime is the signal: a clock that kept running gains no lag, a frozen one gains
    # the downtime; below three tolerances the two cannot be told apart.
    tol = _judgeable(scn, o.downtime_s, "downtime vs the clock tolerance")
    check(
        abs(lag - o.downtime_s) <= tol,
        "without time sync the guest loses the time it spent saved",
        lag_gained_s=lag,
        downtime_s=o.downtime_s,
        tolerance_s=tol,
    )


@then("the lag is still there after the time-sync window has passed")
def lag_stays(scn: Scenario) -> None:
    o = scn.need_outcome()
    window = scn.thresholds.time_sync_window_s
    scn.cluster.wait_target_seconds(window, o.final_owner)
    clock = scn.cluster.guest_clock(o.vm.name, o.final_owner)
    if o.before.clock is None or o.downtime_s is None:
        too_thin("no clock reading before the move or no downtime to compare with")
    if o.downtime_source != "events":
        too_thin("the downtime was measured from polls only, not from the cluster's own events")
    tol = _judgeable(scn, o.downtime_s, "downtime vs the clock tolerance")
    lag = clock.lag_s - o.before.clock.lag_s
    scn.evidence.measure("clock lag after the window", lag, "s")
    check(
        abs(lag - o.downtime_s) <= tol,
        "with time sync off nothing corrects the guest clock",
        lag_s=lag,
        downtime=o.downtime_s,
    )


@then("the guest clock agrees with the host clock within the time-sync window")
def clock_corrected(scn: Scenario) -> None:
    o = scn.need_outcome()
    window = scn.thresholds.time_sync_window_s
    scn.threshold("time_sync_window_s", "time-sync window", "s")
    _never_backwards(o)
    assert o.after is not None and o.after.clock is not None and o.before.clock is not None
    # The correction is judged against the lag the move caused, measured right after it: a
    # lag already within tolerance proves nothing about time sync.
    gained = o.after.clock.lag_s - o.before.clock.lag_s
    scn.evidence.measure("clock lag right after the move", gained, "s")
    tol = _judgeable(scn, gained, "lag right after the move vs the clock tolerance")
    readings = [o.after.clock.guest_utc]

    def corrected() -> tuple[float] | None:
        clock = scn.cluster.guest_clock(o.vm.name, o.final_owner)
        readings.append(clock.guest_utc)
        scn.evidence.observe("during", "guest clock lag", clock.lag_s)
        # A tuple: a lag of exactly 0.0 is a success, not a falsy "keep waiting".
        return (clock.lag_s,) if abs(clock.lag_s) <= tol else None

    lag = scn.cluster.wait_until(corrected, window, "time sync", o.final_owner)
    check(
        all(b >= a for a, b in itertools.pairwise(readings)),
        "time sync only moves the guest clock forward",
        guest_readings=[r.isoformat() for r in readings],
    )
    check(
        lag is not None,
        "working time sync must correct the guest clock after resume",
        lag_after_move_s=gained,
        window_s=window,
        tolerance_s=tol,
        downtime_s=o.downtime_s,
    )
