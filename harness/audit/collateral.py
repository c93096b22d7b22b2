"""Collateral: what else in the cluster a move changed (other groups, storage owners, nodes).

Compared between the inventory read before a move and the one read after it (and after its
settle window): the owner and state of every group that is not moving, the owner of every CSV
and Cluster Disk that no moving group holds, and the state of every node. What the action
itself is expected to change is left out by the caller: the groups it moves, and for a drain or
a crash the node it acts on and what that node owned. docs/observables.md names the claims.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from harness.audit.assertions import broken
from harness.audit.objects import Inventory
from harness.domain.claims import claims_of


def _fold(names: Collection[str]) -> set[str]:
    return {n.casefold() for n in names}


def changes(
    before: Inventory,
    after: Inventory,
    moving_groups: Collection[str],
    affected_nodes: Collection[str] = (),
) -> dict[str, Any]:
    """{"other roles": [...], "storage owners": [...], "node states": [...]} (empty = none)."""
    moving = _fold(moving_groups)
    nodes = _fold(affected_nodes)

    def free(owner: str) -> bool:
        return owner.casefold() not in nodes

    found: dict[str, Any] = {}
    groups_b = {g.name: (g.owner_node, g.state) for g in before.groups}
    groups_a = {g.name: (g.owner_node, g.state) for g in after.groups}
    for doc, target in ((before.raw, groups_b), (after.raw, groups_a)):
        for g in doc.get("other_groups") or ():
            target.setdefault(g["name"], (g["owner_node"], g["state"]))
    roles = [
        {"group": name, "before": list(groups_b[name]), "after": list(groups_a[name])}
        for name in sorted(groups_b.keys() & groups_a.keys())
        if name.casefold() not in moving
        and free(groups_b[name][0])
        and groups_b[name] != groups_a[name]
    ]
    if roles:
        found["other roles"] = roles
    storage: list[dict[str, Any]] = []
    csv_b = {c["name"]: c["owner_node"] for c in before.csvs}
    csv_a = {c["name"]: c["owner_node"] for c in after.csvs}
    for name in sorted(csv_b.keys() & csv_a.keys()):
        if free(csv_b[name]) and csv_b[name].casefold() != csv_a[name].casefold():
            storage.append({"csv": name, "before": csv_b[name], "after": csv_a[name]})
    disks_a = {d.name: d for d in after.disks}
    for d in before.disks:
        other = disks_a.get(d.name)
        if other is None or (d.owner_group or "").casefold() in moving or not free(d.owner_node):
            continue
        if d.owner_node.casefold() != other.owner_node.casefold():
            storage.append({"disk": d.name, "before": d.owner_node, "after": other.owner_node})
    if storage:
        found["storage owners"] = storage
    states_a = {n.name.casefold(): n.state for n in after.nodes}
    node_changes = [
        {"node": n.name, "before": n.state, "after": states_a[n.name.casefold()]}
        for n in before.nodes
        if n.name.casefold() in states_a and free(n.name) and n.state != states_a[n.name.casefold()]
    ]
    if node_changes:
        found["node states"] = node_changes
    return found


def judge(found: dict[str, Any], what: str) -> None:
    """InvariantBroken naming the action and the claims its collateral changes break."""
    __tracebackhide__ = True
    if not found:
        return
    broken(
        claims_of(found),
        f"the {what} changed what it must leave alone: {', '.join(found)}",
        **{k.replace(" ", "_"): v for k, v in found.items()},
    )


def failover_target(before: Inventory, now: Inventory, vm_name: str) -> dict[str, Any]:
    """QM-19: where a crashed node's role went, and whether that node may take it.

    {"seen": ..., "not possible owner": bool, "not up": bool}. Possible owners are judged in one
    document (owner and possible owners of the role read together); "not up" only when the node
    was not Up before the crash and is not Up now (paused after the failover proves nothing).
    """
    group = now.group_of(vm_name)
    node_now, node_before = now.node(group.owner_node), before.node(group.owner_node)
    possible = {n.casefold() for n in group.possible_owners}
    return {
        "seen": {
            "owner": group.owner_node,
            "state_before_crash": node_before.state if node_before else None,
            "state_now": node_now.state if node_now else None,
            "possible_owners": list(group.possible_owners),
        },
        "not possible owner": bool(possible) and group.owner_node.casefold() not in possible,
        "not up": node_now is not None
        and node_before is not None
        and node_now.state != "Up"
        and node_before.state != "Up",
    }
