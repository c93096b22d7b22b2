"""Where a VM may go: the nodes that may own it, and which of them a move or a crash takes."""

from __future__ import annotations

from collections.abc import Callable

from harness.audit.catalog import VmFacts
from harness.audit.cluster import Cluster
from harness.audit.objects import Inventory


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


def homeward(targets: list[str], home: str | None) -> str:
    """The node to move the VM to: home when it is away (the move returns it), else the first
    node that may own it. `targets` must not be empty."""
    for node in targets:
        if home is not None and node.casefold() == home.casefold():
            return node
    return targets[0]


def common_target(inventory: Inventory, vms: list[VmFacts], homes: list[str | None]) -> str | None:
    """The node for a move of several VMs in one request: one that may own every one of them,
    the home of most of them (the move returns them), else the first by name; None if none."""
    owner = inventory.group_of(vms[0].name).owner_node
    common = set.intersection(*(set(candidate_targets(inventory, v, owner)) for v in vms))
    if not common:
        return None
    folded = [(home or "").casefold() for home in homes]
    return min(sorted(common), key=lambda n: -folded.count(n.casefold()))


def paused_on(cluster: Cluster, inventory: Inventory, node: str) -> list[str]:
    """The VMs of `node` that are Paused now."""
    names = [g.vm_name for g in inventory.roles_on(node)]
    _, statuses = cluster.move_status(names) if names else (None, [])
    return [st["vm"] for st in statuses if st.get("vm_state") == "Paused"]


def crash_host(
    cluster: Cluster, vm: VmFacts, inventory: Callable[[], Inventory]
) -> tuple[str, str | None]:
    """The VM's owner now, and a node to crash under it whose other VMs can all be put back as
    they were (None: no such node).

    A power loss turns a Paused VM into a cold-booted running one, and the audit cannot pause a
    VM again; so the VM is first moved to a node without Paused VMs when its owner has one.
    `inventory` reads the cluster now (each call one read)."""
    owner = inventory().group_of(vm.name).owner_node
    if not paused_on(cluster, inventory(), owner):
        return owner, owner
    for node in candidate_targets(inventory(), vm, owner):
        if not paused_on(cluster, inventory(), node):
            return owner, node
    return owner, None


def programdata_node(cluster: Cluster, inventory: Inventory) -> tuple[str, str] | tuple[None, None]:
    """The first Up node whose ProgramData folder is not on drive C, with that folder."""
    for node in inventory.up_nodes():
        info = cluster.host_info(node)
        if not info["program_data"].upper().startswith("C:"):
            return node, info["program_data"]
    return None, None
