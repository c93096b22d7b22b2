"""Where a role may go: possible owners, refusals of a named target, the Best Possible Node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import LabOperationError

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import NodeState, VMState


def can_host(c: LabCluster, vm: VMState, node: NodeState) -> bool:
    """Whether node is a possible owner of the VM's group and of its cluster disk."""
    if not node.member:
        return False
    possible = {p.lower() for p in vm.spec.possible_owners}
    if possible and node.name.lower() not in possible:
        return False
    disk = c.cluster_disk_of(vm)
    if disk is not None:
        spec = next(d for d in c.topology.cluster_disks if d.name == disk)
        if node.name.lower() not in {p.lower() for p in spec.possible_owners}:
            return False
    return True


def loads(c: LabCluster) -> dict[str, int]:
    """Number of VM groups each member owns or is receiving."""
    counts = {n.name: 0 for n in c.members()}
    for vm in c.vms.values():
        owner = c.node(c.eventual_owner(vm)).name
        if owner in counts:
            counts[owner] += 1
    return counts


def check_target(c: LabCluster, vm: VMState, name: str) -> NodeState:
    """The named target if the cluster accepts it, else the refusal a real cluster gives."""
    node = c.nodes.get(name.lower())
    if node is None or not node.member:
        raise LabOperationError(5042, "The cluster node was not found")
    if node.state == "Down":
        raise LabOperationError(5050, f"The cluster node '{node.name}' is down")
    if node.state == "Paused" and node.name != vm.owner:
        raise LabOperationError(5070, f"The cluster node '{node.name}' is paused")
    if not can_host(c, vm, node):
        raise LabOperationError(
            5071, f"The cluster node '{node.name}' cannot host the resources of '{vm.name}'"
        )
    return node


def best_possible_node(c: LabCluster, vm: VMState, load: dict[str, int]) -> NodeState | None:
    """Up, a possible owner, not the source; preferred owners in order, then least loaded.

    With the rule best_possible_node off the cluster picks the source itself (a no-op move).
    """
    source = c.node(vm.owner)
    if not c.rule_on("best_possible_node", vm, (source.name,)):
        return source
    candidates = [
        n for n in c.members() if n.state == "Up" and n is not source and can_host(c, vm, n)
    ]
    if not candidates:
        return None
    by_name = {n.name.lower(): n for n in candidates}
    for preferred in vm.spec.preferred_owners:
        if preferred.lower() in by_name:
            return by_name[preferred.lower()]
    return min(candidates, key=lambda n: (load.get(n.name, 0), n.name.lower()))
