"""The order scenarios run in, chosen so that one observed move serves as many as it can.

A scenario may take the run's last move as its own when it wants the same kind of VM moved the
same way (`harness/audit/ledger.py`). So the schedule runs first what displaces many VMs at once
(a crash, a drain, a multi-VM request: the moves that return those VMs then serve later
scenarios), then the single-VM scenarios grouped by the VM they want (state, storage,
configuration version), a group's scenarios that need a move of their own first (their move then
serves the rest of the group), and last the refused moves, which change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.run.needs import (
    CRASH,
    DRAIN,
    PHASE_NAMES,
    REFUSED,
    SEVERAL,
    SINGLE,
    MoveKind,
    VmKind,
    move_of,
    vm_of,
)

__all__ = ["CRASH", "DRAIN", "PHASE_NAMES", "REFUSED", "SEVERAL", "SINGLE", "MoveNeed"]

OWN_MOVE_TAG = "own-move"
# Scenarios that make no move: they read the cluster as found or its event logs (passive.feature).
NO_MOVE_TAGS = frozenset({"passive", "static", "history"})


class NoMoveDeclared(ValueError):
    """A scenario that checks a claim by a move, but whose When steps declare none."""


@dataclass(frozen=True)
class MoveNeed:
    """What kind of move a scenario makes and of which VM, from its steps' declarations."""

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

    @classmethod
    def of(cls, move: MoveKind, vm: VmKind, tags: set[str]) -> MoveNeed:
        """The need of a scenario from its declared move, its picked VM and its tags."""
        return cls(
            phase=move.phase,
            state=vm.state,
            storage=vm.storage,
            version=vm.version,
            special=vm.special,
            own_move=OWN_MOVE_TAG in tags,
            targeting=move.targeting,
            method=move.method,
        )


def need_of(givens: list[str], whens: list[str], tags: set[str]) -> MoveNeed | None:
    """A scenario's need from its Given and When texts (examples filled in); None: no move.

    The texts are matched to their step functions and those functions' declarations are read
    (harness/run/needs.py), never the wording itself.
    """
    move = move_of(whens)
    if move is None:
        return None
    return MoveNeed.of(move, vm_of(givens), tags)


def need_of_item(item: Any) -> MoveNeed | None:
    """The MoveNeed of a collected pytest-bdd scenario item (None for any other test, and for a
    scenario tagged read-only or with no When step); NoMoveDeclared for a scenario whose When
    steps declare no move."""
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
    whens = [s.name for s in steps if s.type == "when"]
    if tags & NO_MOVE_TAGS or not whens:
        # Tagged read-only, or no When step at all: Gherkin's When is where an action goes.
        return None
    need = need_of([s.name for s in steps if s.type == "given"], whens, tags)
    if need is None:
        raise NoMoveDeclared(
            f"scenario {template.name!r} ({template.feature.rel_filename}) checks its claim by a "
            f"move, but none of its When steps ({'; '.join(whens)}) is a step "
            "function declared with @moves(...) (harness/run/needs.py); tag it @passive, "
            "@static or @history if it makes no move"
        )
    return need


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
    """`items` in run order (stable: scenarios alike keep their collected order).

    NoMoveDeclared (every such scenario named) when a move scenario declares no move.
    """
    needs: list[MoveNeed | None] = []
    undeclared: list[str] = []
    for item in items:
        try:
            needs.append(need_of_item(item))
        except NoMoveDeclared as exc:
            undeclared.append(str(exc))
    if undeclared:
        raise NoMoveDeclared("; ".join(undeclared))
    ranks = _group_order([n for n in needs if n is not None and n.phase == SINGLE])

    def key(index: int) -> tuple[Any, ...]:
        need = needs[index]
        if need is None:
            return (1, (), index)
        group = ranks.get((need.state, need.special, need.storage, need.version), 0)
        return (0, (need.phase, group, *need.sort_key()), index)

    return [items[i] for i in sorted(range(len(items)), key=key)]
