"""The When steps: quick migrations, drains and crashes, recorded as evidence."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from harness.audit.assertions import check
from harness.audit.invariants import MoveCause, judge
from harness.audit.moves import MoveOutcome
from harness.audit.placement import common_target
from harness.run.migration import migrate, move_setup, observe, pick_target
from harness.run.needs import REFUSED, SEVERAL, SINGLE, MoveKind, moves
from harness.run.scenario import Scenario

METHODS = {"Move-ClusterVirtualMachineRole": "vm_role", "Move-ClusterGroup": "cluster_group"}


@given("a target node chosen for the VM")
def chosen_target(scn: Scenario) -> None:
    vm = scn.need_vm()
    prior = scn.prior(vm)
    scn.target_node = prior.requested_node if prior is not None else None
    scn.target_node = scn.target_node or pick_target(scn, vm)


@when("the VM is quick-migrated to another node")
@moves(MoveKind(SINGLE))
def migrate_to_other(scn: Scenario) -> None:
    observe(scn, scn.need_vm(), None)


@when("the VM is quick-migrated to the chosen node")
@when("the VM is quick-migrated to that node")
@moves(MoveKind(SINGLE, "node"))
def migrate_to_chosen(scn: Scenario) -> None:
    vm = scn.need_vm()
    assert scn.target_node is not None, "no node was chosen"
    if scn.prior(vm, node=scn.target_node) is None:
        owner = scn.inventory().group_of(vm.name).owner_node
        if owner == scn.target_node:
            move_setup(scn, vm, pick_target(scn, vm))
    observe(scn, vm, scn.target_node, targeting="node")


@when("the VM is quick-migrated to that host")
@moves(MoveKind(REFUSED))
def migrate_to_host(scn: Scenario) -> None:
    assert scn.target_node is not None, "no host was chosen"
    migrate(scn, [scn.need_vm()], scn.target_node)


@when("the VM is quick-migrated without naming a node")
@moves(MoveKind(SINGLE, "bpn"))
def migrate_bpn(scn: Scenario) -> None:
    observe(scn, scn.need_vm(), None, targeting="bpn")


@when(parsers.parse("the VM is moved to another node with {command} without waiting"))
@moves(
    lambda args: MoveKind(
        SINGLE, "method", "cluster_group" if args["command"] == "Move-ClusterGroup" else "vm_role"
    )
)
def migrate_with(scn: Scenario, command: str) -> None:
    observe(scn, scn.need_vm(), None, METHODS[command])


@when("each of those VMs is quick-migrated to another node in turn")
@moves(MoveKind(SEVERAL))
def migrate_each(scn: Scenario) -> None:
    outcomes: list[MoveOutcome] = []
    for vm in scn.vms:
        migrate(scn, [vm], pick_target(scn, vm))
        outcomes.extend(scn.outcomes)
    scn.outcomes = outcomes


@when("those VMs are quick-migrated to another node in one request")
@moves(MoveKind(SEVERAL))
def migrate_together(scn: Scenario) -> None:
    homes = [scn.restorer.home(v.name) for v in scn.vms]
    node = common_target(scn.inventory(), scn.vms, homes)
    if node is None:
        pytest.skip("no node may own every one of those VMs")
    migrate(scn, scn.vms, node)


@when("the VM is quick-migrated to another node and back")
@moves(MoveKind(SINGLE))
def migrate_round_trip(scn: Scenario) -> None:
    vm = scn.need_vm()
    # The first leg may be the run's last move (then its source is where "back" means).
    observe(scn, vm, None)
    there = scn.outcomes
    migrate(scn, [vm], there[0].source)
    scn.outcomes = there + scn.outcomes
    scn.outcome = scn.outcomes[0]


@then("both legs kept what every quick migration must keep")
def legs_judged(scn: Scenario) -> None:
    for leg, o in enumerate(scn.outcomes, start=1):
        assert o.after is not None
        check(o.refused is None, f"leg {leg} of the round trip must be accepted")
        cause = MoveCause("leg", scn.evidence.scenario, f"leg {leg}: {o.source} -> {o.final_owner}")
        judge(o.vm.name, o.vm.id, o.before, o.after, o.requested_node, cause, o.invariants)


@then("every one of those VMs kept what every quick migration must keep")
def each_judged(scn: Scenario) -> None:
    for o in scn.outcomes:
        assert o.after is not None
        check(o.refused is None, f"the move of {o.vm.name!r} must be accepted")
        cause = MoveCause("scenario", scn.evidence.scenario, f"{o.vm.name} in a multi-VM request")
        judge(o.vm.name, o.vm.id, o.before, o.after, o.requested_node, cause, o.invariants)
