"""The disruption tally of a run: every journalled action per VM, outages, moves, restores."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# An Off or Saved VM has no memory to save: moving it changes its owner, not its availability.
NO_MEMORY_STATES = frozenset({"Off", "Saved"})
# Actions that take a VM away from its node; power_on and resume only bring a node back.
VM_ACTIONS = ("move", "drain", "crash")


@dataclass(frozen=True)
class Cost:
    """What one action costs one VM: an outage or not, its expected seconds and why."""

    outage: bool
    downtime_s: float | None
    basis: str


# (action, VM name, VM state as journalled) -> Cost; the plan prices from the VM's facts.
Estimator = Callable[[str, str, str | None], Cost]


def unpriced(action: str, vm: str, state: str | None) -> Cost:
    """The cost known from the journal alone: an outage unless the VM had no memory to save."""
    if state in NO_MEMORY_STATES:
        return Cost(False, 0.0, f"{state}: no memory to save")
    return Cost(True, None, "not estimated")


@dataclass(frozen=True)
class Disruption:
    """One VM (or, with no VM, one node) one journalled action touched, in journal order."""

    index: int  # position of the action entry in the journal (attribution to scenarios)
    action_id: str
    action: str
    vm: str | None
    source: str | None  # the VM's owner when the action was requested (a node action: nodes)
    to: str | None  # the requested destination; None: the cluster chose
    landed: str | None  # the VM's owner at its next journalled action, if any
    state: str | None
    restoring: bool
    nodes: tuple[str, ...]
    outage: bool
    downtime_s: float | None
    basis: str


@dataclass
class VmTally:
    """One VM over the whole run."""

    vm: str
    moves: int = 0  # quick migrations requested for it, restores included
    restores: int = 0  # of which restoring
    drains: int = 0
    crashes: int = 0
    outages: int = 0
    downtime_s: float = 0.0
    unpriced_outages: int = 0  # outages whose length is not known


@dataclass
class Tally:
    """A run's disruption: every VM touched, what each action cost, and the totals."""

    disruptions: list[Disruption] = field(default_factory=list)
    vms: dict[str, VmTally] = field(default_factory=dict)
    moves: int = 0
    restores: int = 0
    drains: int = 0
    crashes: int = 0
    power_ons: int = 0
    resumes: int = 0

    @property
    def vms_touched(self) -> int:
        return len(self.vms)

    @property
    def max_outages(self) -> int:
        return max((v.outages for v in self.vms.values()), default=0)

    @property
    def downtime_s(self) -> float:
        return sum(v.downtime_s for v in self.vms.values())

    @property
    def outages(self) -> int:
        return sum(v.outages for v in self.vms.values())

    def summary(self) -> dict[str, Any]:
        return {
            "moves": self.moves,
            "restores": self.restores,
            "drains": self.drains,
            "crashes": self.crashes,
            "power_ons": self.power_ons,
            "resumes": self.resumes,
            "vms_touched": self.vms_touched,
            "outages": self.outages,
            "max_outages_per_vm": self.max_outages,
            "downtime_s": self.downtime_s,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": [asdict(d) for d in self.disruptions],
            "vms": [asdict(v) for v in sorted(self.vms.values(), key=lambda v: v.vm)],
            "summary": self.summary(),
        }


def tally_journal(entries: Iterable[dict[str, Any]], estimate: Estimator = unpriced) -> Tally:
    """Turn a run journal (its entries, in file order) into the run's disruption tally.

    Every `action` entry counts, whoever wrote it (every pytest worker of the run) and whether
    or not it succeeded (it was started). A move counts once per VM of its request, restores
    included (`restores` counts the restoring ones); drains and crashes count per action and,
    per VM, as outages when `estimate` says the VM was disturbed (a VM a drain live-migrates
    is not). power_on and resume touch nodes only. `estimate` prices each VM of each action;
    the default knows only what the journal says (state Off or Saved: no outage).
    """
    tally = Tally()
    actions = [(i, e) for i, e in enumerate(entries) if e.get("kind") == "action"]
    rows: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
    for index, entry in actions:
        vms = entry.get("vms") or []
        rows += [(index, entry, place) for place in vms] or [(index, entry, None)]
    for position, (index, entry, place) in enumerate(rows):
        action = str(entry.get("action"))
        restoring = bool(entry.get("restoring"))
        nodes = tuple(entry.get("nodes") or ())
        if _first_of(rows, position):
            # Node actions count once however many VMs they touched.
            if action == "drain":
                tally.drains += 1
            elif action == "crash":
                tally.crashes += 1
            elif action == "power_on":
                tally.power_ons += 1
            elif action == "resume":
                tally.resumes += 1
        if place is None:
            tally.disruptions.append(
                Disruption(
                    index,
                    str(entry.get("id", "")),
                    action,
                    None,
                    ", ".join(nodes) or None,
                    entry.get("to"),
                    None,
                    None,
                    restoring,
                    nodes,
                    False,
                    0.0 if action in VM_ACTIONS else None,
                    "no VM on the node" if action in VM_ACTIONS else "node action",
                )
            )
            continue
        vm = str(place["vm"])
        state = place.get("state")
        landed = next(
            (p.get("owner") for _i, _e, p in rows[position + 1 :] if p and p["vm"] == vm), None
        )
        to = entry.get("to")
        if (
            action == "move"
            and to
            and landed
            and _same(landed, place.get("owner"))
            and not _same(to, landed)
        ):
            # Asked to go elsewhere, found where it was at its next action: the cluster refused
            # the move (a non-member destination), so the VM was never saved.
            cost = Cost(False, 0.0, f"stayed on {landed}: the move did not happen")
        elif action in VM_ACTIONS:
            cost = estimate(action, vm, state)
        else:
            cost = Cost(False, 0.0, "")
        tally.disruptions.append(
            Disruption(
                index,
                str(entry.get("id", "")),
                action,
                vm,
                place.get("owner"),
                to,
                landed,
                state,
                restoring,
                nodes,
                cost.outage,
                cost.downtime_s,
                cost.basis,
            )
        )
        per_vm = tally.vms.setdefault(vm, VmTally(vm))
        if action == "move":
            tally.moves += 1
            per_vm.moves += 1
            if restoring:
                tally.restores += 1
                per_vm.restores += 1
        elif action == "drain":
            per_vm.drains += 1
        elif action == "crash":
            per_vm.crashes += 1
        if cost.outage:
            per_vm.outages += 1
            if cost.downtime_s is None:
                per_vm.unpriced_outages += 1
            else:
                per_vm.downtime_s += cost.downtime_s
    return tally


def _first_of(rows: list[tuple[int, dict[str, Any], dict[str, Any] | None]], pos: int) -> bool:
    """True for the first row of an action (one action may touch several VMs)."""
    return pos == 0 or rows[pos - 1][0] != rows[pos][0]


def _same(a: Any, b: Any) -> bool:
    """Node names compare case-insensitively, like Windows names."""
    return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()
