"""The state one scenario's steps share: what it picked, what it moved and what it saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.audit import selection, settle
from harness.audit.catalog import Catalog, VmFacts
from harness.audit.cluster import Cluster
from harness.audit.ledger import MoveLedger, ObservedMove
from harness.audit.moves import MoveOutcome
from harness.audit.objects import Inventory
from harness.run import sharing
from harness.run.needs import SINGLE
from harness.run.restore import Restorer
from harness.run.schedule import MoveNeed


@dataclass(repr=False)
class Scenario:
    """What one scenario has picked and seen so far (a fixture: state never lives in globals)."""

    # Allure records every step argument's repr as a step parameter: keep it to what a reader
    # needs (the default repr carried the whole run, catalog and transcripts into every step).

    run: Any
    cluster: Cluster
    catalog: Catalog
    restorer: Restorer
    moves: MoveLedger
    need: MoveNeed | None = None
    title: str = ""
    vm: VmFacts | None = None
    vms: list[VmFacts] = field(default_factory=list)
    target_node: str | None = None
    outcome: MoveOutcome | None = None
    outcomes: list[MoveOutcome] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        names = [vm.name for vm in self.vms] or ([self.vm.name] if self.vm else [])
        return f"Scenario(vms={names!r}, target_node={self.target_node!r})"

    @property
    def evidence(self) -> Any:
        return self.run.current

    @property
    def thresholds(self) -> Any:
        return self.run.target.thresholds

    def use(self, vm: VmFacts) -> VmFacts:
        self.vm = vm
        self.vms = [vm]
        if self.evidence is not None and vm.name not in self.evidence.vms:
            self.evidence.vms.append(vm.name)
        return vm

    def use_all(self, vms: list[VmFacts]) -> None:
        """Take several VMs (the first is the scenario's `vm`)."""
        self.vms = vms
        self.vm = self.vms[0]
        self.evidence.vms.extend(v.name for v in self.vms)

    def threshold(self, field_name: str, label: str, unit: str) -> float:
        """A threshold's value, recorded in the evidence with where it came from."""
        value = float(getattr(self.thresholds, field_name))
        self.evidence.threshold(label, value, unit, self.run.target.threshold_source(field_name))
        return value

    def need_vm(self) -> VmFacts:
        assert self.vm is not None, "no VM was picked by a Given step"
        return self.vm

    def need_outcome(self) -> MoveOutcome:
        if self.outcome is None:
            raise RuntimeError("no move was made by a When step")
        return self.outcome

    def inventory(self) -> Inventory:
        """The cluster now, once every move still inside its settle window has been judged
        (a step that picks a VM or a target must not act on what a late change undid)."""
        settle.window(self.cluster).check_due()
        return self.cluster.inventory()

    def prior(self, vm: VmFacts | None = None, *, node: str | None = None) -> ObservedMove | None:
        """The run's last move, if this scenario may take it as its own move of `vm`."""
        return sharing.reusable(self.moves, self.need, vm or self.vm, node)

    def away(self, vm: VmFacts) -> bool:
        """The VM is not on the owner the run found it on (its next move takes it home)."""
        home = self.restorer.home(vm.name)
        if home is None:
            return False
        return self.inventory().group_of(vm.name).owner_node.casefold() != home.casefold()

    def as_found(self, candidates: list[VmFacts]) -> list[VmFacts]:
        """The candidates still in the state the run found them in (one probe for all).

        An earlier scenario's move may have left a VM otherwise (a defect): a scenario that
        took it would judge its own claim on a VM that no longer meets its Given.
        """
        if not candidates:
            return []
        _, statuses = self.cluster.move_status([v.name for v in candidates])
        now = {s["vm"]: s.get("vm_state") for s in statuses}
        return [v for v in candidates if now.get(v.name) == v.state]

    def choose(self, candidates: list[VmFacts], fallback: VmFacts | None) -> VmFacts | None:
        """Which eligible VM to take (`selection.choose`: the run's last move if it can serve,
        else one away from home, else `fallback`); `candidates` must already be `as_found`."""
        single = self.need is not None and self.need.phase == SINGLE
        return selection.choose(
            candidates, fallback, lambda vm: self.prior(vm) is not None, single, self.away
        )

    def rotated(self, key: str, *conditions: Any) -> VmFacts | None:
        """`Catalog.rotate`, unless a VM the run already moved can serve (`choose`)."""
        candidates = self.as_found(self.catalog.pick_all(*conditions))
        chosen = self.choose(candidates, None)
        if chosen is not None:
            return chosen
        return self.catalog.rotate(key, *conditions, lambda v: v in candidates)
