"""The Given steps that pick the VMs a scenario works on."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers

from harness.audit import selection
from harness.audit.assertions import check
from harness.audit.catalog import VmFacts, plain, running, storage_kind
from harness.audit.downtime import SIGNAL_FACTOR, expected_downtime
from harness.run.lease import require_idle
from harness.run.migration import move_setup
from harness.run.needs import VmKind, picks
from harness.run.scenario import Scenario


def skip_without(vm: VmFacts | None, what: str) -> VmFacts:
    """No VM of the kind the scenario needs: not a verdict on the claim, so skip with the reason."""
    if vm is None:
        pytest.skip(f"the target has no VM the audit may move that is {what}")
    return vm


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
            scn.rotated(
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
    vm = selection.fewest_roles(candidates, inventory)
    scn.use(skip_without(vm, f"running on {storage} storage"))


@given(parsers.parse("a running VM on {storage} storage"))
@picks(lambda args: VmKind("Running", args["storage"]))
def running_vm_on_storage(scn: Scenario, storage: str) -> None:
    kind = storage_kind(storage)
    scn.use(
        skip_without(
            scn.rotated(f"running/{kind}", running, plain, lambda v: v.storage == kind),
            f"running on {storage} storage",
        )
    )


@given(parsers.parse("a running VM with configuration version {version}"))
@picks(lambda args: VmKind("Running", version=args["version"]))
def running_vm_version(scn: Scenario, version: str) -> None:
    vm = scn.rotated(f"running/{version}", running, plain, lambda v: v.config_version == version)
    scn.use(skip_without(vm, f"running with configuration version {version}"))


@given(parsers.parse("a VM in state {state}"))
@picks(lambda args: VmKind(args["state"]))
def vm_in_state(scn: Scenario, state: str) -> None:
    candidates = scn.as_found(scn.catalog.pick_all(plain, lambda v: v.state == state))
    vm = scn.choose(candidates, selection.largest(candidates))
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


def clock_signal_vm(scn: Scenario, candidates: list[VmFacts], what: str) -> VmFacts:
    """The VM whose move gives the largest clock signal (the longest expected downtime).

    QM-15 compares a lag with the downtime: a downtime under three clock tolerances cannot
    tell a frozen clock from a running one, so such a target is skipped with the figures.
    """

    def expected(v: VmFacts) -> float:
        tp = scn.run.target.throughput_for(v.path)
        return expected_downtime(v, tp, scn.thresholds.max_downtime_per_gib_s)

    vm = skip_without(selection.loudest(candidates, expected), what)
    need = SIGNAL_FACTOR * scn.thresholds.clock_tolerance_s
    if expected(vm) < need:
        pytest.skip(
            f"no VM {what} is expected to be down long enough to judge its clock: "
            f"{vm.name!r} {expected(vm):.1f} s < {need:.1f} s "
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
    if len(candidates) < count:
        pytest.skip(f"the target has fewer than {count} running VMs the audit may move")
    # Bring more VMs to the fullest node first; the restorer returns them afterwards.
    node, group, extra = selection.same_node(candidates, owner, count)
    for vm in extra:
        move_setup(scn, vm, node)
    # VMs away from home first: the request can then take them home together.
    scn.use_all(sorted(group + extra, key=lambda v: (not scn.away(v), v.name))[:count])


@given("running VMs of at least three different memory sizes on shared storage")
@picks(VmKind("Running"))
def running_vms_sizes(scn: Scenario) -> None:
    candidates = scn.as_found(scn.catalog.pick_all(running, plain, lambda v: v.storage != "local"))

    def root_of(vm: VmFacts) -> str:
        root = scn.run.target.throughput_for(vm.path)
        return root.root if root is not None else vm.storage

    sizes = selection.three_sizes(candidates, root_of)
    if len(sizes) < 3:
        pytest.skip("the target has no shared volume with running VMs of three memory sizes")
    scn.use_all(selection.spread(sizes, scn.away))
