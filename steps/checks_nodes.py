"""Steps about whole nodes: draining one (QM-18) and crashing one in the lab (QM-19)."""

from __future__ import annotations

import pytest
from pytest_bdd import given, then, when

from harness.audit import collateral, selection
from harness.audit.assertions import check
from harness.domain.events import EventId
from harness.run import outage
from harness.run.migration import move_setup
from harness.run.needs import CRASH, DRAIN, MoveKind, VmKind, moves, picks
from harness.run.scenario import Scenario


@given("a node that owns a running VM below the move-type threshold and one at or above it")
@picks(VmKind("Running"))
def drain_setup(scn: Scenario) -> None:
    inventory = scn.inventory()
    threshold = inventory.move_type_threshold
    low = scn.as_found(scn.catalog.pick_all(selection.below(threshold)))
    high = scn.as_found(scn.catalog.pick_all(selection.at_or_above(threshold)))
    if not low or not high:
        pytest.skip("the target has no running VMs on both sides of the move-type threshold")
    # Where the VMs are now (an earlier scenario may have left one away from where it started).
    owner = {v.name: inventory.group_of(v.name).owner_node for v in low + high}
    node = owner[low[0].name]
    if not any(owner[v.name] == node for v in high):
        move_setup(scn, high[0], node)
    owned = [g.vm_name for g in scn.inventory().roles_on(node)]
    scn.vms = [scn.catalog.get(name) for name in owned]
    for vm in scn.vms:
        scn.restorer.remember(vm)
    scn.target_node = node
    scn.data["threshold"] = threshold
    scn.evidence.vms.extend(owned)


@when("that node is drained")
@moves(MoveKind(DRAIN))
def drain(scn: Scenario) -> None:
    node = scn.target_node
    assert node is not None
    outage.drain(scn, node)


@then("the drain completes")
def drain_completed(scn: Scenario) -> None:
    info = scn.inventory().node(scn.target_node or "")
    check(
        info is not None and info.drain_status == "Completed",
        "the drain must complete",
        status=info.drain_status if info else None,
    )


def _saved_roles(scn: Scenario) -> set[str]:
    return {
        e.role or ""
        for e in scn.data["events"]
        if e.id == EventId.ROLE_OFFLINE and e.node == scn.target_node
    }


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
@moves(MoveKind(CRASH))
def crash(scn: Scenario) -> None:
    outage.crash(scn)


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
    failover_target_fit(scn, vm.name)


def failover_target_fit(scn: Scenario, vm_name: str) -> None:
    """QM-19: the failover target is a possible owner of the role and an Up node."""
    __tracebackhide__ = True
    found = collateral.failover_target(scn.data["inventory_before"], scn.inventory(), vm_name)
    scn.evidence.observe("after", "failover target", found["seen"])
    check(
        not found["not possible owner"],
        "a crashed node's role must fail over to a possible owner",
        **found["seen"],
    )
    check(
        not found["not up"],
        "a crashed node's role must fail over to an Up node (not Paused, not Down)",
        **found["seen"],
    )


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
    saved = [e for e in scn.data["events"] if e.id == EventId.ROLE_OFFLINE and e.role == vm.group]
    check(
        not saved and abs(clock.lag_s) <= scn.thresholds.clock_tolerance_s,
        "a crashed host cannot save its VMs: the guest starts cold with the host's clock",
        saved_events=len(saved),
        lag_s=clock.lag_s,
    )
