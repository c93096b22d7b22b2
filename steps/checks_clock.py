"""Then steps about the guest: no reboot, uptime, and its clock with and without time sync."""

from __future__ import annotations

from pytest_bdd import given, then

from harness.audit.assertions import check, too_thin
from steps.common import Scenario


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


@then("the guest clock lags the host clock by about the measured downtime")
def lag_is_downtime(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None and o.after.clock is not None and o.before.clock is not None
    lag = o.after.clock.lag_s - o.before.clock.lag_s
    tol = scn.thresholds.clock_tolerance_s
    scn.evidence.measure("clock lag gained", lag, "s")
    check(o.downtime_s is not None, "the downtime must be measured", downtime=o.downtime_s)
    assert o.downtime_s is not None
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
    assert o.before.clock is not None and o.downtime_s is not None
    lag = clock.lag_s - o.before.clock.lag_s
    scn.evidence.measure("clock lag after the window", lag, "s")
    check(
        abs(lag - o.downtime_s) <= scn.thresholds.clock_tolerance_s,
        "with time sync off nothing corrects the guest clock",
        lag_s=lag,
        downtime=o.downtime_s,
    )


@then("the guest clock agrees with the host clock within the time-sync window")
def clock_corrected(scn: Scenario) -> None:
    o = scn.need_outcome()
    tol, window = scn.thresholds.clock_tolerance_s, scn.thresholds.time_sync_window_s
    scn.threshold("time_sync_window_s", "time-sync window", "s")

    def corrected() -> float | None:
        lag = scn.cluster.guest_clock(o.vm.name, o.final_owner).lag_s
        scn.evidence.observe("during", "guest clock lag", lag)
        return lag if abs(lag) <= tol else None

    lag = scn.cluster.wait_until(corrected, window, "time sync", o.final_owner)
    check(
        lag is not None,
        "working time sync must correct the guest clock after resume",
        window_s=window,
        tolerance_s=tol,
        downtime_s=o.downtime_s,
    )
