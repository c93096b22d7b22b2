"""The aftermath of a move made outside `quick_migrate` (a drain, `qmaudit recover`), judged.

A drain moves every role of its node, quick or live, without a move request per VM; recover
returns VMs a broken run left behind. Both must keep what every move keeps
(`harness/audit/invariants.py`): the caller takes a snapshot of each VM before, and after the
cluster has settled `judge_moved` compares them, for the VMs that actually changed owner.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from harness.audit import settle
from harness.audit.assertions import InvariantBroken
from harness.audit.catalog import VmFacts
from harness.audit.cluster import Cluster
from harness.audit.invariants import MoveCause, judge, violations
from harness.audit.moves import Snapshot, snapshot


@dataclass
class Aftermath:
    """One VM moved outside a move request: its snapshots and the invariants it broke."""

    vm: VmFacts
    before: Snapshot
    after: Snapshot
    owners: tuple[str, ...]  # the nodes it may end on
    found: dict[str, Any]

    def as_evidence(self) -> dict[str, Any]:
        return {
            "vm": self.vm.name,
            "from": self.before.owner,
            "to": self.after.owner,
            "allowed_owners": list(self.owners),
            "invariants": self.found or "all held",
        }


def snapshots(cluster: Cluster, vms: Iterable[VmFacts]) -> dict[str, Snapshot]:
    """A snapshot of each VM, by name (taken before the drain or the return), once the moves
    still inside their settle window have been judged."""
    settle.window(cluster).check_due()
    return {vm.name: snapshot(cluster, vm) for vm in vms}


def up_nodes_except(after: Snapshot, left: str, vm_name: str | None = None) -> tuple[str, ...]:
    """Where a drained VM may end: any node Up after the drain other than the drained one,
    and a possible owner of the VM's role (when the inventory names its possible owners)."""
    possible: set[str] = set()
    if vm_name is not None:
        try:
            possible = {n.casefold() for n in after.inventory.group_of(vm_name).possible_owners}
        except KeyError:
            possible = set()
    return tuple(
        n.name
        for n in after.inventory.nodes
        if n.state == "Up"
        and n.name.casefold() != left.casefold()
        and (not possible or n.name.casefold() in possible)
    )


def moved(
    cluster: Cluster,
    vms: Iterable[VmFacts],
    before: dict[str, Snapshot],
    owners: Collection[str] | None = None,
) -> list[Aftermath]:
    """Snapshot each VM again; every VM whose owner changed is judged (not yet failed).

    `owners` are the nodes the VMs may end on; None means any Up node other than the one each VM
    left (a drain). A VM still on its old owner did not move: what that means is the caller's
    claim (a drain that leaves roles behind fails QM-18, not the move invariants).
    """
    out: list[Aftermath] = []
    window = settle.window(cluster)
    for vm in vms:
        first = before[vm.name]
        after = snapshot(cluster, vm)
        if after.owner.casefold() == first.owner.casefold():
            continue
        allowed = (
            tuple(owners) if owners is not None else up_nodes_except(after, first.owner, vm.name)
        )
        found = violations(vm.id, first, after, allowed)
        out.append(Aftermath(vm, first, after, allowed, found))
        # Judged again once the cluster had time to act on it (harness/audit/settle.py).
        what = "drain" if owners is None else "recover"
        window.expect(vm, first, after, MoveCause(what, "", vm.name), None, set(found))
    return out


def judge_moved(results: Iterable[Aftermath], cause: MoveCause) -> None:
    """InvariantBroken (carrying its claims) for the first VM that broke an invariant."""
    __tracebackhide__ = True
    for r in results:
        judge(r.vm.name, r.vm.id, r.before, r.after, r.owners, cause)


def failures(results: Iterable[Aftermath], cause: MoveCause) -> list[InvariantBroken]:
    """The violation (message and claims) of each VM that broke an invariant."""
    out: list[InvariantBroken] = []
    for r in results:
        try:
            judge(r.vm.name, r.vm.id, r.before, r.after, r.owners, cause)
        except InvariantBroken as violation:
            out.append(violation)
    return out
