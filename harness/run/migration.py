"""A scenario's quick migrations: made or shared, judged, and recorded as its evidence."""

from __future__ import annotations

import pytest

from harness.audit.assertions import InvariantBroken
from harness.audit.catalog import VmFacts
from harness.audit.downtime import expected_window
from harness.audit.invariants import MoveCause
from harness.audit.ledger import ObservedMove
from harness.audit.moves import MoveOutcome, judge_outcome, judged_move, quick_migrate
from harness.audit.placement import candidate_targets, homeward
from harness.run.scenario import Scenario


def pick_target(scn: Scenario, vm: VmFacts) -> str:
    """The node to move the VM to: home when it is away (the move returns it), else the first
    node that may own it."""
    inventory = scn.inventory()
    owner = inventory.group_of(vm.name).owner_node
    targets = candidate_targets(inventory, vm, owner)
    if not targets:
        pytest.skip(f"no Up node other than {owner} may own VM {vm.name!r}")
    return homeward(targets, scn.restorer.home(vm.name))


def window(scn: Scenario, vms: list[VmFacts]) -> float:
    """The shortest save window expected among `vms` on this target, to pace the polls."""
    target = scn.run.target
    return expected_window(vms, target.throughput_for, scn.thresholds.max_downtime_per_gib_s)


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
        scn.cluster, vms, node, method, scn.thresholds.move_timeout_s, window(scn, vms)
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
                judge_outcome(outcome, node, cause)
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
        scn.cluster, [vm], node, cause, scn.thresholds.move_timeout_s, window(scn, [vm])
    )
    reply = outcome.trace.request if outcome.trace else None
    scn.evidence.observe("before", f"setup: {vm.name} moved to {node}", reply)
