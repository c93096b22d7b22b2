"""Which VM a scenario takes: the rules over the VMs its Given finds eligible (selection.md)."""

from __future__ import annotations

from collections.abc import Callable

from harness.audit.catalog import VmFacts, extremes_first
from harness.audit.objects import Inventory


def choose(
    candidates: list[VmFacts],
    fallback: VmFacts | None,
    serves: Callable[[VmFacts], bool],
    single: bool,
    away: Callable[[VmFacts], bool],
) -> VmFacts | None:
    """Which eligible VM to take: the one the run's last move `serves` the scenario with; else
    (a single-VM move only) one `away` from home (its move returns it); else `fallback`.

    `candidates` must already be as found; a `fallback` that is not is not taken."""
    if fallback is not None and fallback not in candidates:
        fallback = None
    for vm in candidates:
        if serves(vm):
            return vm
    if not single:
        return fallback
    for vm in extremes_first(candidates):
        if away(vm):
            return vm
    return fallback


def largest(candidates: list[VmFacts]) -> VmFacts | None:
    """The largest VM: it makes "independent of memory size" (QM-08) as visible as can be."""
    return max(candidates, key=lambda v: v.memory_bytes, default=None)


def fewest_roles(candidates: list[VmFacts], inventory: Inventory) -> VmFacts | None:
    """The VM whose owner holds the fewest clustered roles: a crash of that node touches every
    role of it, so crash the one whose loss disturbs the fewest."""
    return min(
        candidates,
        key=lambda v: (len(inventory.roles_on(inventory.group_of(v.name).owner_node)), v.name),
        default=None,
    )


def loudest(candidates: list[VmFacts], expected: Callable[[VmFacts], float]) -> VmFacts | None:
    """The VM whose move gives the largest clock signal (the longest `expected` downtime)."""
    return max(candidates, key=expected, default=None)


def by_owner(candidates: list[VmFacts], owner: dict[str, str]) -> dict[str, list[VmFacts]]:
    """The candidates grouped by the node that owns each now (`owner`: VM name -> node)."""
    out: dict[str, list[VmFacts]] = {}
    for vm in candidates:
        out.setdefault(owner[vm.name], []).append(vm)
    return out


def same_node(
    candidates: list[VmFacts], owner: dict[str, str], count: int
) -> tuple[str, list[VmFacts], list[VmFacts]]:
    """`count` VMs on one node: the fullest node, the VMs already there and the ones to bring.

    The VMs to bring are moved to the node first (setup moves the restorer returns later)."""
    group = max(by_owner(candidates, owner).values(), key=len, default=[])
    if len(group) >= count:
        return (owner[group[0].name] if group else "", group, [])
    node = owner[group[0].name] if group else owner[candidates[0].name]
    extra = [v for v in candidates if owner[v.name] != node][: count - len(group)]
    return node, group, extra


def three_sizes(candidates: list[VmFacts], root_of: Callable[[VmFacts], str]) -> list[VmFacts]:
    """One VM per memory size on the storage root with the most distinct sizes, smallest first.

    A root whose storage traffic stays off the cluster networks lets QM-09's network check be
    judged (an SMB 3 share's does not); among roots with three sizes, prefer those."""
    by_root: dict[str, dict[int, VmFacts]] = {}
    for vm in candidates:
        by_root.setdefault(root_of(vm), {}).setdefault(vm.memory_bytes, vm)
    kinds = {key: {v.storage for v in vms.values()} for key, vms in by_root.items()}
    best = max(
        by_root.items(),
        key=lambda item: (len(item[1]) >= 3, "SMB 3" not in kinds[item[0]], len(item[1])),
        default=("", {}),
    )[1]
    return sorted(best.values(), key=lambda v: v.memory_bytes)


def spread(sizes: list[VmFacts], away: Callable[[VmFacts], bool]) -> list[VmFacts]:
    """Three moves are enough for a line and each is an outage: the smallest, the largest, and
    one between (one away from home if any: its move returns it)."""
    middle = sizes[1:-1]
    between = next((v for v in middle if away(v)), middle[len(middle) // 2])
    return [sizes[0], between, sizes[-1]]


def below(threshold: int) -> Callable[[VmFacts], bool]:
    """Running, no pass-through disk, priority below the move-type threshold (a drain saves it)."""
    return lambda v: v.state == "Running" and not v.passthrough and v.priority < threshold


def at_or_above(threshold: int) -> Callable[[VmFacts], bool]:
    """Running, no pass-through disk, priority at or above the move-type threshold (live)."""
    return lambda v: v.state == "Running" and not v.passthrough and v.priority >= threshold
