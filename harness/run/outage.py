"""Whole-node outages, a drain or a crash, each as one unit, and what else they changed."""

from __future__ import annotations

import pytest

from harness.audit import aftermath, collateral
from harness.audit.assertions import InvariantBroken
from harness.audit.invariants import MoveCause
from harness.audit.moves import settled
from harness.audit.objects import Inventory
from harness.audit.placement import crash_host
from harness.run.migration import move_setup
from harness.run.scenario import Scenario


def drain(scn: Scenario, node: str) -> None:
    """Drain `node` and judge every VM it moved; the events since are in `scn.data`."""
    # Every VM the drain may move is read before it, to judge each one it moved afterwards.
    before = aftermath.snapshots(scn.cluster, scn.vms)
    inventory_before = scn.inventory()
    start = scn.cluster.now()
    scn.restorer.remember_drain(node)
    names = [vm.name for vm in scn.vms]

    def drained() -> bool:
        inv = scn.inventory()
        info = inv.node(node)
        return info is not None and info.drain_status in ("Completed", "Failed")

    def vms_settled() -> bool:
        return all(settled(s) for s in scn.cluster.move_status(names)[1]) if names else True

    # One unit: the guard holds the cluster lock from the request until the drain has ended
    # and every VM it moved has settled (a role may still be resuming when the drain reports).
    with scn.cluster.draining(node) as reply:
        scn.evidence.observe("during", "drain requested", reply)
        scn.cluster.wait_until(drained, scn.thresholds.move_timeout_s, "drain")
        scn.cluster.wait_until(vms_settled, scn.thresholds.move_timeout_s, "drained VMs settled")
    nodes = [n.name for n in scn.inventory().nodes if n.state != "Down"]
    scn.data["events"] = scn.cluster.events(start, nodes)
    results = aftermath.moved(scn.cluster, scn.vms, before)
    for r in results:
        scn.evidence.observe("after", f"{r.vm.name}: drain invariants", r.as_evidence())
    cause = MoveCause("drain", scn.evidence.scenario, f"drain of {node}")
    # Failed at teardown, like a restore move's violation (the marker names the invariants'
    # claims): the drain's own claim (QM-18) still gets the verdict of its own checks.
    scn.restorer.violations.extend(aftermath.failures(results, cause))
    # What else the drain changed: it may move the node's roles and pause it, nothing more.
    moving = [g.name for g in inventory_before.roles_on(node)]
    changes(scn, inventory_before, moving, node, f"drain of {node}")


def changes(scn: Scenario, before: Inventory, moving: list[str], node: str, what: str) -> None:
    """Other groups, storage owners and node states around a drain or crash of `node`."""
    found = collateral.changes(before, scn.inventory(), moving, [node])
    scn.evidence.observe("after", f"{what}: collateral", found or "nothing else changed")
    try:
        collateral.judge(found, what)
    except InvariantBroken as violation:
        scn.restorer.violations.append(violation)


def crashable_owner(scn: Scenario) -> str:
    """A node to crash under the scenario's VM whose other VMs can all be put back as they were
    (`placement.crash_host`); the VM is moved there first when it is not its owner."""
    vm = scn.need_vm()
    owner, node = crash_host(scn.cluster, vm, scn.inventory)
    if node is None:
        pytest.skip(
            f"every node that may own {vm.name!r} also hosts a Paused VM, which a crash would "
            "leave running (the audit cannot pause it again)"
        )
    if node != owner:
        move_setup(scn, vm, node)
    return node


def crash(scn: Scenario) -> None:
    """Crash the scenario's VM's owner (lab only) until the VM runs elsewhere; its clock before,
    the crash time and the events since are in `scn.data`."""
    vm = scn.need_vm()
    scn.restorer.remember(vm)
    owner = crashable_owner(scn)
    inv = scn.inventory()
    # Every VM of the crashed node fails over, not only the one observed: all go back afterwards.
    for group in inv.roles_on(owner):
        scn.restorer.remember(scn.catalog.get(group.vm_name))
    before = scn.cluster.guest_clock(vm.name, owner)
    scn.data["inventory_before"] = inv
    crashed_at = scn.cluster.now()
    scn.restorer.remember_crash(owner)
    scn.data.update(source=owner, before_clock=before, crashed_at=crashed_at)

    def running_elsewhere() -> bool:
        _, statuses = scn.cluster.move_status([vm.name])
        s = statuses[0]
        return s["owner_node"] != owner and settled(s) and s["vm_state"] == "Running"

    # One unit: the guard holds the cluster lock from the crash until the VM has failed over.
    with scn.cluster.crashing(owner):
        scn.cluster.wait_until(running_elsewhere, scn.thresholds.failover_timeout_s, "failover")
    scn.data["events"] = scn.cluster.events(
        crashed_at, [n.name for n in scn.inventory().nodes if n.state == "Up"]
    )
    moving = [g.name for g in inv.roles_on(owner)]
    changes(scn, inv, moving, owner, f"crash of {owner}")
