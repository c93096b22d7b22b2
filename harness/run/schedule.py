"""The order scenarios run in, chosen so that one observed move serves as many as it can.

A scenario may take the run's last move as its own when it wants the same kind of VM moved the
same way (`harness/audit/ledger.py`). So the schedule runs first what displaces many VMs at once
(a crash, a drain, a multi-VM request: the moves that return those VMs then serve later
scenarios), then the single-VM scenarios grouped by the VM they want (state, storage,
configuration version), a group's scenarios that need a move of their own first (their move then
serves the rest of the group), and last the refused moves, which change nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OWN_MOVE_TAG = "own-move"

_STATE = re.compile(r"\bin state (\w+)")
_STORAGE = re.compile(r"\bon (CSV|Cluster Disk|SMB 3) storage")
_VERSION = re.compile(r"configuration version ([\d.]+)")

# Phases in run order.
CRASH, DRAIN, SEVERAL, SINGLE, REFUSED = range(5)
PHASE_NAMES = ("crash", "drain", "several VMs", "one VM", "refused")


@dataclass(frozen=True)
class MoveNeed:
    """What kind of move a scenario makes and of which VM, read from its rendered steps."""

    phase: int
    state: str = ""
    storage: str = ""
    version: str = ""
    special: str = ""  # hardware or placement only some VMs have (pass-through, preferences)
    own_move: bool = False
    targeting: str = "other"  # "other", "node", "bpn", "method"
    method: str = "vm_role"  # the move command: Move-ClusterVirtualMachineRole or -Group

    def sort_key(self) -> tuple[Any, ...]:
        """Within a group: a scenario needing its own move first (the rest can share it), then
        one that names the node (its move serves "another node" too), the rest after."""
        targeting_rank = {"node": 1, "other": 2, "bpn": 3, "method": 3}[self.targeting]
        return (0 if self.own_move else 1, targeting_rank)


def need_of(givens: list[str], whens: list[str], tags: set[str]) -> MoveNeed:
    """Classify a scenario by its Given and When texts (examples already filled in)."""
    when = " ".join(whens)
    given = " ".join(givens)
    if "crashes" in when:
        phase = CRASH
    elif "drained" in when:
        phase = DRAIN
    elif "those VMs" in when:
        phase = SEVERAL
    elif "that host" in when:
        phase = REFUSED
    else:
        phase = SINGLE
    state = _STATE.search(given)
    storage = _STORAGE.search(given)
    version = _VERSION.search(given)
    if "without naming a node" in when:
        targeting = "bpn"
    elif "without waiting" in when:
        targeting = "method"
    elif "chosen node" in when or "that node" in when:
        targeting = "node"
    else:
        targeting = "other"
    special = ""
    if "pass-through" in given:
        special = "pass-through"
    elif "preferred owners" in given:
        special = "preferred owners"
    return MoveNeed(
        phase=phase,
        special=special,
        state=state.group(1) if state else ("Running" if "running" in given else ""),
        storage=storage.group(1) if storage else "",
        version=version.group(1) if version else "",
        own_move=OWN_MOVE_TAG in tags,
        targeting=targeting,
        method="cluster_group" if "Move-ClusterGroup" in when else "vm_role",
    )


def need_of_item(item: Any) -> MoveNeed | None:
    """The MoveNeed of a collected pytest-bdd scenario item (None for any other test)."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "function", None)
    if function is None or item.get_closest_marker("claim") is None:
        return None
    template = scenario_wrapper_template_registry.get(function)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    steps = template.render(example).steps
    tags = set(template.tags) | set(template.feature.tags)
    return need_of(
        [s.name for s in steps if s.type == "given"],
        [s.name for s in steps if s.type == "when"],
        tags,
    )


def _group_order(needs: list[MoveNeed]) -> dict[tuple[str, ...], int]:
    """The rank of each (state, special, storage, version) group of single-VM scenarios.

    Storage by storage: each storage's groups by version, then its any-version group; a group
    that names a version but no storage runs right after the first group with that version,
    and the groups that name neither run last. So every group follows one whose VM fits it.
    """
    keys = sorted({(n.state, n.special, n.storage, n.version) for n in needs})
    order: list[tuple[str, ...]] = []
    for state, special in sorted({(k[0], k[1]) for k in keys}):
        mine = [k for k in keys if k[:2] == (state, special)]
        for storage in sorted({k[2] for k in mine if k[2]}):
            for version in sorted({k[3] for k in mine if k[2] == storage and k[3]}):
                order.append((state, special, storage, version))
                loose = (state, special, "", version)
                if loose in mine and loose not in order:
                    order.append(loose)
            if (state, special, storage, "") in mine:
                order.append((state, special, storage, ""))
        order.extend(k for k in mine if k not in order)
    return {k: i for i, k in enumerate(order)}


def schedule(items: list[Any]) -> list[Any]:
    """`items` in run order (stable: scenarios alike keep their collected order)."""
    needs = [need_of_item(item) for item in items]
    ranks = _group_order([n for n in needs if n is not None and n.phase == SINGLE])

    def key(index: int) -> tuple[Any, ...]:
        need = needs[index]
        if need is None:
            return (1, (), index)
        group = ranks.get((need.state, need.special, need.storage, need.version), 0)
        return (0, (need.phase, group, *need.sort_key()), index)

    return [items[i] for i in sorted(range(len(items)), key=key)]
