"""Then steps on the cluster's behaviour: downtime, membership, clocks, placement, drain, crash."""

from __future__ import annotations

import pytest
from pytest_bdd import given, then, when

from harness.cluster import SAVE_STATES
from harness.errors import HarnessError
from harness.moves import settled
from harness.plot import downtime_plot, linear_fit
from harness.report import attach_png
from harness.verdicts import check
from steps.common import Scenario


@given("a Hyper-V host that is not a member of the cluster")
def non_member(scn: Scenario) -> None:
    host = scn.run.target.non_member_host
    if host is None:
        pytest.skip("the target names no Hyper-V host outside the cluster")
    check(scn.inventory().node(host) is None, "the host must not be a cluster member", host=host)
    scn.target_node = host


@then("the move is refused because the cluster node was not found")
def refused_5042(scn: Scenario) -> None:
    o = scn.need_outcome()
    message = o.refused.target_message if o.refused else None
    check(
        message is not None and ("5042" in message or "was not found" in message),
        "a move to a host outside the cluster must fail with 5042 (cluster node not found)",
        refusal=message,
        owner_after=o.after.owner if o.after else None,
    )


@then("the VM is still running on its original owner")
def still_on_source(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    state = o.after.details.state if o.after.details else None
    check(
        o.after.owner == o.source and state == "Running",
        "a refused move leaves the VM running where it was",
        owner=o.after.owner,
        state=state,
    )


@then("the VM's registration, cluster resources and file paths are unchanged")
def nothing_changed(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    b, a = o.before, o.after
    regs_b = {n: r.registered for n, r in b.registrations.items()}
    regs_a = {n: r.registered for n, r in a.registrations.items()}
    check(regs_b == regs_a, "registration must not change", before=regs_b, after=regs_a)
    check(b.resources == a.resources, "cluster resources must not change")
    paths_b = b.details.paths if b.details else None
    paths_a = a.details.paths if a.details else None
    check(paths_b == paths_a, "file paths must not change", before=paths_b, after=paths_a)


@then("the guest did not reboot")
def no_reboot(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    b, a = o.before.clock, o.after.clock
    check(b is not None and a is not None, "the guest clock must be readable before and after")
    assert b is not None and a is not None
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


@then("each VM's downtime is measured from the cluster's own event timestamps")
def downtime_from_events(scn: Scenario) -> None:
    sources = {o.vm.name: o.downtime_source for o in scn.outcomes}
    if any(s != "events" for s in sources.values()):
        raise HarnessError(f"the cluster logged no offline/online events for: {sources}")


@then("each VM's downtime is within the bound for its memory size and storage throughput")
def downtime_bounded(scn: Scenario) -> None:
    th = scn.thresholds
    for o in scn.outcomes:
        gib = o.vm.memory_gib
        tp = scn.run.target.throughput_for(o.vm.path)
        bound = th.max_downtime_per_gib_s * gib + th.downtime_allowance_s
        if tp is not None:
            model = o.vm.memory_bytes / (tp.write_mb_s * 1e6) + o.vm.memory_bytes / (
                tp.read_mb_s * 1e6
            )
            bound = min(bound, model * th.throughput_tolerance + th.downtime_allowance_s)
        source = "default"
        if {"max_downtime_per_gib_s", "throughput_tolerance", "downtime_allowance_s"} & (
            scn.run.target.threshold_overrides
        ):
            source = "inventory"
        scn.evidence.threshold(f"{o.vm.name}: downtime bound", bound, "s", source)
        check(
            o.downtime_s is not None and o.downtime_s <= bound,
            f"VM {o.vm.name!r}: downtime must follow memory size and storage throughput",
            downtime_s=o.downtime_s,
            bound_s=bound,
            memory_gib=gib,
        )


@then("downtime grows linearly with memory size")
def downtime_linear(scn: Scenario) -> None:
    points = [(o.vm.name, o.vm.memory_gib, o.downtime_s or 0.0) for o in scn.outcomes]
    slope, intercept, r2 = linear_fit([p[1] for p in points], [p[2] for p in points])
    scn.evidence.measure("downtime per GiB (fit slope)", slope, "s/GiB")
    scn.evidence.measure("fit intercept", intercept, "s")
    scn.evidence.measure("fit quality", r2, "r2")
    scn.threshold("min_fit_r2", "minimum fit quality", "r2")
    path = scn.run.run_dir / "downtime-vs-memory.png"
    downtime_plot(points, (slope, intercept, r2), path)
    attach_png(path, "downtime vs memory")
    check(
        slope > 0 and r2 >= scn.thresholds.min_fit_r2,
        "downtime must grow linearly with memory",
        slope=slope,
        r2=r2,
        points=points,
    )


@then("the bytes sent between the nodes during each move are a small fraction of the VM's memory")
def network_small(scn: Scenario) -> None:
    limit = scn.thresholds.max_network_fraction
    for o in scn.outcomes:
        assert o.after is not None
        sent = o.after.network[o.source][0] - o.before.network[o.source][0]
        fraction = sent / o.vm.memory_bytes
        scn.evidence.measure(f"{o.vm.name}: bytes sent by the source", sent, "bytes")
        check(
            fraction <= limit,
            f"VM {o.vm.name!r}: memory must not cross the network",
            sent_bytes=sent,
            memory_bytes=o.vm.memory_bytes,
            limit_fraction=limit,
        )


@then("the VM is running on a node that is up, a possible owner and not its original owner")
def bpn_valid(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    node = o.before.inventory.node(o.final_owner)
    possible = o.vm.possible_owners
    state = o.after.details.state if o.after.details else None
    check(
        node is not None
        and node.state == "Up"
        and o.final_owner != o.source
        and (not possible or o.final_owner in possible)
        and state == "Running",
        "the Best Possible Node is Up, a possible owner and not the source",
        source=o.source,
        chosen=o.final_owner,
        state=state,
    )


@then("the cluster honoured the VM's preferred owners")
def bpn_preferred(scn: Scenario) -> None:
    o = scn.need_outcome()
    up = set(o.before.inventory.up_nodes())
    preferred = [n for n in o.vm.preferred_owners if n in up and n != o.source]
    scn.evidence.observe("before", "preferred owners", list(o.vm.preferred_owners))
    if preferred:
        check(
            o.final_owner == preferred[0],
            "the first available preferred owner is chosen",
            preferred=preferred,
            chosen=o.final_owner,
        )
    else:
        check(
            o.final_owner in up - {o.source},
            "with no preferred owner any other Up node",
            chosen=o.final_owner,
        )


@then("every one of those VMs is running on the target node")
def all_running(scn: Scenario) -> None:
    from steps.checks_move import running_on_target

    running_on_target(scn)


@then("every one of those VMs passed through Saved state")
def all_saved(scn: Scenario) -> None:
    for o in scn.outcomes:
        check(
            bool(o.role_events(1204, o.source)) or o.saw_state(SAVE_STATES, o.source),
            f"VM {o.vm.name!r} must pass through Saved state",
            events=len(o.events),
        )


@given("a node that owns a running VM below the move-type threshold and one at or above it")
def drain_setup(scn: Scenario) -> None:
    from steps.moves import move_setup

    threshold = scn.inventory().move_type_threshold
    low = scn.catalog.pick_all(
        lambda v: v.state == "Running" and not v.passthrough and v.priority < threshold
    )
    high = scn.catalog.pick_all(
        lambda v: v.state == "Running" and not v.passthrough and v.priority >= threshold
    )
    if not low or not high:
        pytest.skip("the target has no running VMs on both sides of the move-type threshold")
    node = low[0].owner
    if not any(v.owner == node for v in high):
        move_setup(scn, high[0], node)
    owned = [g.vm_name for g in scn.inventory().roles_on(node)]
    scn.vms = [scn.catalog.get(name) for name in owned]
    for vm in scn.vms:
        scn.restorer.remember(vm)
    scn.target_node = node
    scn.data["threshold"] = threshold
    scn.evidence.vms.extend(owned)


@when("that node is drained")
def drain(scn: Scenario) -> None:
    node = scn.target_node
    assert node is not None
    start = scn.cluster.now()
    scn.restorer.remember_drain(node)
    reply = scn.cluster.drain(node)
    scn.evidence.observe("during", "drain requested", reply)

    def drained() -> bool:
        inv = scn.inventory()
        info = inv.node(node)
        return info is not None and info.drain_status in ("Completed", "Failed")

    scn.cluster.wait_until(drained, scn.thresholds.move_timeout_s, "drain")
    nodes = [n.name for n in scn.inventory().nodes if n.state != "Down"]
    scn.data["events"] = scn.cluster.events(start, nodes)


@then("the drain completes")
def drain_completed(scn: Scenario) -> None:
    info = scn.inventory().node(scn.target_node or "")
    check(
        info is not None and info.drain_status == "Completed",
        "the drain must complete",
        status=info.drain_status if info else None,
    )


def _saved_roles(scn: Scenario) -> set[str]:
    return {e.role or "" for e in scn.data["events"] if e.id == 1204 and e.node == scn.target_node}


@then("every VM below the move-type threshold passed through Saved state")
def drain_low_saved(scn: Scenario) -> None:
    low = [v for v in scn.vms if v.priority < scn.data["threshold"] and v.state == "Running"]
    missing = [v.name for v in low if v.group not in _saved_roles(scn)]
    check(not missing, "drain must quick-migrate VMs below MoveTypeThreshold", not_saved=missing)


@then("every VM at or above the move-type threshold moved without being saved")
def drain_high_live(scn: Scenario) -> None:
    # A VM with a pass-through disk cannot be live-migrated (QM-21): the drain quick-migrates it
    # whatever its priority, so it says nothing about the priority split.
    high = [
        v
        for v in scn.vms
        if v.priority >= scn.data["threshold"] and v.state == "Running" and not v.passthrough
    ]
    saved = [v.name for v in high if v.group in _saved_roles(scn)]
    check(not saved, "drain must live-migrate VMs at or above MoveTypeThreshold", saved=saved)


@then("the drained node is paused and owns no roles")
def drained_node(scn: Scenario) -> None:
    inv = scn.inventory()
    node = inv.node(scn.target_node or "")
    roles = [g.name for g in inv.roles_on(scn.target_node or "")]
    check(
        node is not None and node.state == "Paused" and not roles,
        "a drained node ends Paused with no roles",
        state=node.state if node else None,
        roles=roles,
    )


@when("the VM's owner node crashes")
def crash(scn: Scenario) -> None:
    vm = scn.need_vm()
    scn.restorer.remember(vm)
    inv = scn.inventory()
    owner = inv.group_of(vm.name).owner_node
    # Every VM of the crashed node fails over, not only the one observed: all go back afterwards.
    for group in inv.roles_on(owner):
        scn.restorer.remember(scn.catalog.get(group.vm_name))
    before = scn.cluster.guest_clock(vm.name, owner)
    crashed_at = scn.cluster.now()
    scn.restorer.remember_crash(owner)
    scn.cluster.lab_crash(owner)
    scn.data.update(source=owner, before_clock=before, crashed_at=crashed_at)

    def running_elsewhere() -> bool:
        _, statuses = scn.cluster.move_status([vm.name])
        s = statuses[0]
        return s["owner_node"] != owner and settled(s) and s["vm_state"] == "Running"

    scn.cluster.wait_until(running_elsewhere, scn.thresholds.failover_timeout_s, "failover")
    scn.data["events"] = scn.cluster.events(
        crashed_at, [n.name for n in scn.inventory().nodes if n.state == "Up"]
    )


@then("the VM is running on another node within the failover time")
def failed_over(scn: Scenario) -> None:
    vm = scn.need_vm()
    _, statuses = scn.cluster.move_status([vm.name])
    s = statuses[0]
    scn.evidence.observe("after", "status", s)
    check(
        s["owner_node"] != scn.data["source"] and s["vm_state"] == "Running",
        "the VM must run on another node after its host crashed",
        status=s,
    )
    scn.data["owner_after"] = s["owner_node"]


@then("the guest booted again after the crash")
def booted_again(scn: Scenario) -> None:
    vm = scn.need_vm()
    clock = scn.cluster.guest_clock(vm.name, scn.data["owner_after"])
    scn.data["after_clock"] = clock
    check(
        clock.guest_last_boot > scn.data["before_clock"].guest_last_boot,
        "the guest must boot cold after a host crash",
        boot_before=scn.data["before_clock"].guest_last_boot.isoformat(),
        boot_after=clock.guest_last_boot.isoformat(),
    )


@then("no saved state was used to start the VM")
def no_saved_state(scn: Scenario) -> None:
    vm = scn.need_vm()
    clock = scn.data["after_clock"]
    saved = [e for e in scn.data["events"] if e.id == 1204 and e.role == vm.group]
    check(
        not saved and abs(clock.lag_s) <= scn.thresholds.clock_tolerance_s,
        "a crashed host cannot save its VMs: the guest starts cold with the host's clock",
        saved_events=len(saved),
        lag_s=clock.lag_s,
    )
