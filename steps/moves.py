"""The When steps: quick migrations, drains and crashes, recorded as evidence."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from harness.audit.assertions import InvariantBroken, check
from harness.audit.catalog import VmFacts
from harness.audit.invariants import MoveCause, judge
from harness.audit.ledger import ObservedMove
from harness.audit.moves import MoveOutcome, judged_move, quick_migrate
from harness.audit.objects import Inventory
from harness.run.needs import REFUSED, SEVERAL, SINGLE, MoveKind, moves
from steps.common import Scenario

METHODS = {"Move-ClusterVirtualMachineRole": "vm_role", "Move-ClusterGroup": "cluster_group"}


def candidate_targets(inventory: Inventory, vm: VmFacts, owner: str) -> list[str]:
    """Up nodes other than the owner that may own the VM and the Cluster Disks of its group."""
    allowed = {n.casefold() for n in vm.possible_owners} if vm.possible_owners else None
    out = []
    for node in inventory.up_nodes():
        if node.casefold() == owner.casefold():
            continue
        if allowed is not None and node.casefold() not in allowed:
            continue
        disks = inventory.disks_of_group(vm.group)
        if any(node not in d.possible_owners for d in disks):
            continue
        out.append(node)
    return sorted(out)


def pick_target(scn: Scenario, vm: VmFacts) -> str:
    """The node to move the VM to: home when it is away (the move returns it), else the first
    node that may own it."""
    inventory = scn.inventory()
    owner = inventory.group_of(vm.name).owner_node
    targets = candidate_targets(inventory, vm, owner)
    if not targets:
        pytest.skip(f"no Up node other than {owner} may own VM {vm.name!r}")
    home = scn.restorer.home(vm.name)
    for node in targets:
        if home is not None and node.casefold() == home.casefold():
            return node
    return targets[0]


def record(scn: Scenario, outcome: MoveOutcome) -> None:
    """Put a move's before/during/after observations and timings into the evidence."""
    ev = scn.evidence
    name = outcome.vm.name
    ev.observe("before", name, outcome.before.as_evidence())
    if outcome.after is not None:
        ev.observe("after", name, outcome.after.as_evidence())
    if outcome.refused is not None:
        ev.observe("after", f"{name}: refusal", outcome.refused.target_message)
    if outcome.trace is not None:
        ev.observe("during", f"{name}: move requested", outcome.trace.request)
        for sample in outcome.trace.samples_of(name):
            ev.observe("during", f"{name}: poll", sample.as_dict())
    ev.observe("after", f"{name}: move invariants", outcome.invariants or "all held")
    ev.observe(
        "after",
        f"{name}: cluster events",
        [
            {
                "node": e.node,
                "id": e.id,
                "time_utc": e.time.isoformat(),
                "properties": list(e.properties),
            }
            for e in outcome.events
        ],
    )
    truth = _ground_truth(scn, outcome)
    if outcome.downtime_s is not None:
        extra = {"detail": f"from {outcome.downtime_source}"}
        if truth is not None:
            ev.measure(f"{name}: downtime", outcome.downtime_s, "s", truth=truth, **extra)
        else:
            ev.measure(f"{name}: downtime", outcome.downtime_s, "s", **extra)
    if outcome.move_time_s is not None:
        ev.measure(f"{name}: move time", outcome.move_time_s, "s", detail="request to settled")


def _ground_truth(scn: Scenario, outcome: MoveOutcome) -> float | None:
    lab = scn.run.target.lab
    if lab is None:
        return None
    history = lab.ground_truth(outcome.vm.name)
    truth = history[-1].downtime_s if history else None
    if truth is None:
        return None
    outcome.ground_truth_s = float(truth)
    return float(truth)


def expected_window(scn: Scenario, vms: list[VmFacts]) -> float:
    """The shortest save window expected among `vms` (target seconds), to pace the polls.

    From the declared storage throughput where known, else from the downtime bound per GiB.
    """
    windows = []
    for vm in vms:
        tp = scn.run.target.throughput_for(vm.path)
        if tp is not None:
            windows.append(tp.save_s(vm.memory_bytes))
        else:
            windows.append(vm.memory_gib * scn.thresholds.max_downtime_per_gib_s / 2)
    return max(0.05, min(windows, default=1.0))


def migrate(
    scn: Scenario,
    vms: list[VmFacts],
    node: str | None,
    method: str = "vm_role",
    targeting: str = "other",
) -> None:
    """Make a move of the scenario's own and record it (its invariants judged at the end)."""
    for vm in vms:
        scn.restorer.remember(vm)
    homes = {vm.name: scn.restorer.home(vm.name) for vm in vms}
    outcomes = quick_migrate(
        scn.cluster, vms, node, method, scn.thresholds.move_timeout_s, expected_window(scn, vms)
    )
    returned = all(
        o.after is not None and (homes[o.vm.name] or "").casefold() == o.after.owner.casefold()
        for o in outcomes
    )
    move = scn.moves.add(scn.title, method, targeting, node, outcomes, restoring=returned)
    scn.evidence.observe("during", "observed move", move.as_evidence(shared=False))
    for outcome in outcomes:
        record(scn, outcome)
        if outcome.invariants and outcome.after is not None:
            # Every move is judged, the scenario's own too: what it broke fails at teardown
            # (after the scenario's own checks), naming this move and the invariants' claims.
            cause = MoveCause("observed", scn.evidence.scenario, f"{move.id}: {outcome.vm.name}")
            try:
                judge(
                    outcome.vm.name,
                    outcome.vm.id,
                    outcome.before,
                    outcome.after,
                    node,
                    cause,
                    outcome.invariants,
                )
            except InvariantBroken as violation:
                scn.restorer.violations.append(violation)
    scn.outcomes = outcomes
    scn.outcome = outcomes[0]


def share(scn: Scenario, move: ObservedMove) -> None:
    """Take an earlier move of this run as the scenario's own: its evidence names the move."""
    move.shared_by.append(scn.title)
    scn.evidence.observe("during", "observed move", move.as_evidence(shared=True))
    for outcome in move.outcomes:
        record(scn, outcome)
    scn.outcomes = list(move.outcomes)
    scn.outcome = move.outcomes[0]


def observe(
    scn: Scenario,
    vm: VmFacts,
    node: str | None,
    method: str = "vm_role",
    targeting: str = "other",
) -> None:
    """The scenario's move of `vm`: the run's last move when it can serve, else a new one."""
    prior = scn.prior(vm, node=node if targeting == "node" else None)
    if prior is not None:
        share(scn, prior)
        return
    if targeting == "other":
        node = pick_target(scn, vm)
    migrate(scn, [vm], node, method, targeting)


def move_setup(scn: Scenario, vm: VmFacts, node: str) -> None:
    """Arrange a precondition by moving a VM (restored at teardown like any other move).

    The move is judged like any quick migration; a broken invariant fails the scenario with
    evidence naming this setup move.
    """
    scn.restorer.remember(vm)
    cause = MoveCause("setup", scn.evidence.scenario, f"{vm.name} to {node}")
    (outcome,) = judged_move(
        scn.cluster, [vm], node, cause, scn.thresholds.move_timeout_s, expected_window(scn, [vm])
    )
    reply = outcome.trace.request if outcome.trace else None
    scn.evidence.observe("before", f"setup: {vm.name} moved to {node}", reply)


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
    inventory = scn.inventory()
    owner = inventory.group_of(scn.vms[0].name).owner_node
    common = set.intersection(*(set(candidate_targets(inventory, v, owner)) for v in scn.vms))
    if not common:
        pytest.skip("no node may own every one of those VMs")
    # The node that is home to most of them (the move returns them), else the first by name.
    homes = [(scn.restorer.home(v.name) or "").casefold() for v in scn.vms]
    node = min(sorted(common), key=lambda n: -homes.count(n.casefold()))
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
