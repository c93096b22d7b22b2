"""Shared scenario state and the Given steps that pick the VMs a scenario works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd import given, parsers

from harness.audit import settle
from harness.audit.assertions import check
from harness.audit.catalog import Catalog, VmFacts, extremes_first, plain, running, storage_kind
from harness.audit.cluster import Cluster
from harness.audit.ledger import MoveLedger, ObservedMove
from harness.audit.moves import MoveOutcome
from harness.audit.objects import Inventory
from harness.domain.storage import expected_downtime_s
from harness.run.lease import require_idle
from harness.run.needs import SINGLE, VmKind, picks
from harness.run.restore import Restorer
from harness.run.schedule import MoveNeed, need_of_item

# The command each When step's move uses, and how it names the target node.
TARGETING_OF_NEED = {"other": "other", "node": "node", "bpn": "bpn", "method": "other"}

# A signal smaller than this many tolerances is too small to judge (BROKEN, not PASSED).
SIGNAL_FACTOR = 3.0


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
        vm = vm or self.vm
        need = self.need
        if vm is None or need is None or need.own_move or need.phase != SINGLE:
            return None
        method = need.method
        targeting = TARGETING_OF_NEED[need.targeting]
        if targeting == "node" and node is None:
            targeting = "other"
        return self.moves.reusable(vm.name, method, targeting, node=node, state=vm.state)

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
        """Which eligible VM to take: the one the run's last move can serve this scenario with;
        else one away from home (its move returns it); else `fallback` (the selection rule).

        `candidates` must already be `as_found`; a `fallback` that is not is not taken."""
        if fallback is not None and fallback not in candidates:
            fallback = None
        for vm in candidates:
            if self.prior(vm) is not None:
                return vm
        if self.need is None or self.need.phase != SINGLE:
            return fallback
        for vm in extremes_first(candidates):
            if self.away(vm):
                return vm
        return fallback


def rotated(scn: Scenario, key: str, *conditions: Any) -> VmFacts | None:
    """`Catalog.rotate`, unless a VM the run already moved can serve (`Scenario.choose`)."""
    candidates = scn.as_found(scn.catalog.pick_all(*conditions))
    chosen = scn.choose(candidates, None)
    if chosen is not None:
        return chosen
    return scn.catalog.rotate(key, *conditions, lambda v: v in candidates)


def skip_without(vm: VmFacts | None, what: str) -> VmFacts:
    """No VM of the kind the scenario needs: not a verdict on the claim, so skip with the reason."""
    if vm is None:
        pytest.skip(f"the target has no VM the audit may move that is {what}")
    return vm


@pytest.fixture
def scn(
    request: pytest.FixtureRequest,
    qm_run: Any,
    qm_cluster: Cluster,
    qm_catalog: Catalog,
    qm_restorer: Restorer,
    qm_moves: MoveLedger,
) -> Scenario:
    """The scenario's state."""
    return Scenario(
        qm_run,
        qm_cluster,
        qm_catalog,
        qm_restorer,
        qm_moves,
        need=need_of_item(request.node),
        title=qm_restorer.scenario,
    )


@given("the target cluster is reachable and healthy")
def cluster_healthy(scn: Scenario) -> None:
    inventory = scn.inventory()
    up = inventory.up_nodes()
    scn.evidence.observe("before", "nodes", {n.name: n.state for n in inventory.nodes})
    check(len(up) >= 2, "a quick migration needs at least two nodes that are Up", up_nodes=up)
    # A role still moving is someone else's change in progress: BROKEN, not a violated claim.
    require_idle([g.name for g in inventory.groups if g.state == "Pending"])


@given(parsers.parse("a running VM on {storage} storage with configuration version {version}"))
@picks(lambda args: VmKind("Running", args["storage"], args["version"]))
def running_vm_on_storage_version(scn: Scenario, storage: str, version: str) -> None:
    kind = storage_kind(storage)
    scn.use(
        skip_without(
            rotated(
                scn,
                f"running/{kind}/{version}",
                running,
                plain,
                lambda v: v.storage == kind,
                lambda v: v.config_version == version,
            ),
            f"running on {storage} storage with configuration version {version}",
        )
    )


@given(
    parsers.parse("a running VM on {storage} storage on the node with the fewest clustered roles")
)
@picks(lambda args: VmKind("Running", args["storage"]))
def running_vm_fewest_roles(scn: Scenario, storage: str) -> None:
    # A crash touches every role of the node: crash the one whose loss disturbs the fewest.
    kind = storage_kind(storage)
    inventory = scn.inventory()
    candidates = scn.as_found(scn.catalog.pick_all(running, plain, lambda v: v.storage == kind))
    vm = min(
        candidates,
        key=lambda v: (len(inventory.roles_on(inventory.group_of(v.name).owner_node)), v.name),
        default=None,
    )
    scn.use(skip_without(vm, f"running on {storage} storage"))


@given(parsers.parse("a running VM on {storage} storage"))
@picks(lambda args: VmKind("Running", args["storage"]))
def running_vm_on_storage(scn: Scenario, storage: str) -> None:
    kind = storage_kind(storage)
    scn.use(
        skip_without(
            rotated(scn, f"running/{kind}", running, plain, lambda v: v.storage == kind),
            f"running on {storage} storage",
        )
    )


@given(parsers.parse("a running VM with configuration version {version}"))
@picks(lambda args: VmKind("Running", version=args["version"]))
def running_vm_version(scn: Scenario, version: str) -> None:
    vm = rotated(scn, f"running/{version}", running, plain, lambda v: v.config_version == version)
    scn.use(skip_without(vm, f"running with configuration version {version}"))


@given(parsers.parse("a VM in state {state}"))
@picks(lambda args: VmKind(args["state"]))
def vm_in_state(scn: Scenario, state: str) -> None:
    # The largest such VM: it makes "independent of memory size" (QM-08) as visible as can be.
    candidates = scn.as_found(scn.catalog.pick_all(plain, lambda v: v.state == state))
    vm = scn.choose(candidates, max(candidates, key=lambda v: v.memory_bytes, default=None))
    scn.use(skip_without(vm, f"in state {state}"))


@given("a running VM that has preferred owners")
@picks(VmKind("Running", special="preferred owners"))
def running_vm_preferred(scn: Scenario) -> None:
    candidates = scn.as_found(
        scn.catalog.pick_all(running, plain, lambda v: len(v.preferred_owners) >= 2)
    )
    vm = scn.choose(candidates, candidates[0] if candidates else None)
    scn.use(skip_without(vm, "running with at least two preferred owners"))


@given("a running VM without preferred owners")
@picks(VmKind("Running", special="no preferred owners"))
def running_vm_no_preferred(scn: Scenario) -> None:
    candidates = scn.as_found(
        scn.catalog.pick_all(running, plain, lambda v: not v.preferred_owners)
    )
    vm = scn.choose(candidates, candidates[0] if candidates else None)
    scn.use(skip_without(vm, "running without preferred owners"))


def expected_downtime(scn: Scenario, vm: VmFacts) -> float:
    """Save + restore time of the VM's memory at its storage's declared throughput, else the
    per-GiB downtime bound (an upper estimate)."""
    tp = scn.run.target.throughput_for(vm.path)
    return expected_downtime_s(vm.memory_bytes, tp, scn.thresholds.max_downtime_per_gib_s)


def clock_signal_vm(scn: Scenario, candidates: list[VmFacts], what: str) -> VmFacts:
    """The VM whose move gives the largest clock signal (the longest expected downtime).

    QM-15 compares a lag with the downtime: a downtime under three clock tolerances cannot
    tell a frozen clock from a running one, so such a target is skipped with the figures.
    """
    vm = max(candidates, key=lambda v: expected_downtime(scn, v), default=None)
    vm = skip_without(vm, what)
    need = SIGNAL_FACTOR * scn.thresholds.clock_tolerance_s
    if expected_downtime(scn, vm) < need:
        pytest.skip(
            f"no VM {what} is expected to be down long enough to judge its clock: "
            f"{vm.name!r} {expected_downtime(scn, vm):.1f} s < {need:.1f} s "
            f"({SIGNAL_FACTOR:g} x the clock tolerance)"
        )
    return vm


@given("a running VM whose Time Synchronization service is disabled")
@picks(VmKind("Running"))
def running_vm_no_time_sync(scn: Scenario) -> None:
    candidates = scn.as_found(
        scn.catalog.pick_all(running, plain, lambda v: v.time_sync_enabled is False)
    )
    scn.use(clock_signal_vm(scn, candidates, "running with Time Synchronization disabled"))


@given("a running VM whose Time Synchronization service is enabled and working")
@picks(VmKind("Running"))
def running_vm_time_sync(scn: Scenario) -> None:
    candidates = scn.as_found(
        scn.catalog.pick_all(
            running, plain, lambda v: v.time_sync_enabled is True and v.time_sync_status == "OK"
        )
    )
    scn.use(clock_signal_vm(scn, candidates, "running with Time Synchronization enabled and OK"))


@given("a running VM with a pass-through disk")
@picks(VmKind("Running", special="pass-through"))
def running_vm_passthrough(scn: Scenario) -> None:
    candidates = scn.as_found(scn.catalog.pick_all(running, lambda v: v.passthrough))
    vm = scn.choose(candidates, candidates[0] if candidates else None)
    scn.use(skip_without(vm, "running with a pass-through disk"))


@given(parsers.parse("{count:d} running VMs on the same node"))
@picks(VmKind("Running"))
def running_vms_same_node(scn: Scenario, count: int) -> None:
    candidates = scn.as_found(scn.catalog.pick_all(running, plain))
    inventory = scn.inventory()
    # Where the VMs are now: earlier scenarios may have left some away from where they started.
    owner = {vm.name: inventory.group_of(vm.name).owner_node for vm in candidates}
    by_owner: dict[str, list[VmFacts]] = {}
    for vm in candidates:
        by_owner.setdefault(owner[vm.name], []).append(vm)
    group = max(by_owner.values(), key=len, default=[])
    if len(candidates) < count:
        pytest.skip(f"the target has fewer than {count} running VMs the audit may move")
    if len(group) < count:
        # Bring more VMs to the fullest node first; the restorer returns them afterwards.
        from steps.moves import move_setup

        node = owner[group[0].name] if group else owner[candidates[0].name]
        extra = [v for v in candidates if owner[v.name] != node][: count - len(group)]
        for vm in extra:
            move_setup(scn, vm, node)
        group = group + extra
    # VMs away from home first: the request can then take them home together.
    scn.vms = sorted(group, key=lambda v: (not scn.away(v), v.name))[:count]
    scn.vm = scn.vms[0]
    scn.evidence.vms.extend(v.name for v in scn.vms)


@given("running VMs of at least three different memory sizes on shared storage")
@picks(VmKind("Running"))
def running_vms_sizes(scn: Scenario) -> None:
    by_root: dict[str, dict[int, VmFacts]] = {}
    for vm in scn.as_found(scn.catalog.pick_all(running, plain, lambda v: v.storage != "local")):
        root = scn.run.target.throughput_for(vm.path)
        key = root.root if root is not None else vm.storage
        by_root.setdefault(key, {}).setdefault(vm.memory_bytes, vm)
    # A root whose storage traffic stays off the cluster networks lets QM-09's network check be
    # judged (an SMB 3 share's does not); among roots with three sizes, prefer those.
    kinds = {key: {v.storage for v in vms.values()} for key, vms in by_root.items()}
    best = max(
        by_root.items(),
        key=lambda item: (len(item[1]) >= 3, "SMB 3" not in kinds[item[0]], len(item[1])),
        default=("", {}),
    )[1]
    if len(best) < 3:
        pytest.skip("the target has no shared volume with running VMs of three memory sizes")
    sizes = sorted(best.values(), key=lambda v: v.memory_bytes)
    # Three moves are enough for a line and each is an outage: the smallest, the largest, and
    # one between (one away from home if any: its move returns it).
    middle = sizes[1:-1]
    between = next((v for v in middle if scn.away(v)), middle[len(middle) // 2])
    scn.vms = [sizes[0], between, sizes[-1]]
    scn.vm = scn.vms[0]
    scn.evidence.vms.extend(v.name for v in scn.vms)
