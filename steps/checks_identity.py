"""Then steps about identity: registration, cluster resources, guest identity and KVP."""

from __future__ import annotations

import pytest
from pytest_bdd import given, then

from harness.audit import links, registry
from harness.audit.assertions import check, too_thin
from harness.audit.catalog import VmFacts
from harness.audit.kvp import kvp_names_host
from harness.audit.placement import candidate_targets, programdata_node
from harness.run.scenario import Scenario


@given("the VM is registered on its owner node only")
def registered_on_owner(scn: Scenario) -> None:
    vm = scn.need_vm()
    prior = scn.prior(vm)
    if prior is not None:
        # The scenario will take that move: "before" is the move's before.
        before = prior.outcomes[0].before
        owner, regs = before.owner, before.registrations
    else:
        inventory = scn.inventory()
        owner = inventory.group_of(vm.name).owner_node
        nodes = [n.name for n in inventory.nodes if n.state != "Down"]
        regs = scn.cluster.registrations(vm.id, nodes)
    scn.evidence.observe("before", "registered on", links.registered(regs))
    check(
        links.registered(regs) == [owner],
        "before the move only the owner registers the VM",
        owner=owner,
        registered_on=links.registered(regs),
    )


@then("the VM is registered on exactly one node, its new owner")
@then("every one of those VMs is registered on exactly one node, its new owner")
def single_registration(scn: Scenario) -> None:
    for o in scn.outcomes or [scn.need_outcome()]:
        if o.refused is not None:
            # No new owner to judge: a refusal is QM-07's verdict (any state can be moved).
            pytest.skip(f"the move of {o.vm.name!r} was refused: {o.refused.target_message}")
        links.judge_single(o)


@then("the original owner no longer registers the VM")
def source_clean(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    reg = o.after.registrations.get(o.source)
    check(
        reg is not None and not reg.registered,
        "the source must no longer register the VM",
        source=o.source,
        links=list(reg.links) if reg else None,
        vm_known=reg.vm_known if reg else None,
        cache_entries=list(reg.cache_entries) if reg else None,
    )


@then("a version 5.0 VM's link on the new owner points at its configuration file")
def link_target(scn: Scenario) -> None:
    links.judge_target(scn.need_outcome(), scn.evidence)


@given("a node whose ProgramData folder is not on drive C")
def node_programdata_not_c(scn: Scenario) -> None:
    vm = scn.need_vm()
    inventory = scn.inventory()
    node, program_data = programdata_node(scn.cluster, inventory)
    if node is None or program_data is None:
        pytest.skip("no node of the target has its ProgramData folder on a drive other than C:")
    scn.target_node = node
    scn.data["program_data"] = program_data
    scn.evidence.observe("before", f"ProgramData of {node}", program_data)
    if node not in candidate_targets(inventory, vm, ""):
        pytest.skip(f"node {node} may not own VM {vm.name!r}")


@then("the VM's link on that node is in the Hyper-V folder under that node's own ProgramData")
def link_under_programdata(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None and scn.target_node is not None
    links.judge_folder(o, scn.target_node, scn.data["program_data"])


@given("every node reads the same registry entries for the VM's cluster resources")
@then("every node reads the same registry entries for the VM's cluster resources")
def registry_consistent(scn: Scenario) -> None:
    vm: VmFacts = scn.need_vm()
    prior = scn.prior(vm) if scn.outcome is None else None
    if scn.outcome is not None and scn.outcome.after is not None:
        resources = scn.outcome.after.resources
    elif prior is not None:
        resources = prior.outcomes[0].before.resources  # the move the scenario will take
    else:
        nodes = [n.name for n in scn.inventory().nodes if n.state != "Down"]
        resources = scn.cluster.resources(vm.id, nodes)
    views = registry.registry_views(resources)
    scn.evidence.observe("after" if scn.outcome else "before", "registry views", views)
    distinct = {repr(v) for v in views.values()}
    check(
        len(distinct) == 1 and all(p for v in views.values() for (_i, p, *_r) in v),
        "HKLM\\Cluster\\Resources must read the same on every node",
        views=views,
    )


@then("the VM's cluster resources have the same GUIDs, names and types as before")
def resource_identity(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    before = {n: registry.resource_identity(r) for n, r in o.before.resources.items()}
    after = {n: registry.resource_identity(r) for n, r in o.after.resources.items()}
    flat_before = {repr(v) for v in before.values()}
    flat_after = {repr(v) for v in after.values()}
    check(
        flat_before == flat_after and len(flat_after) == 1,
        "the VM's cluster resources keep their GUID, name and type",
        before=before,
        after=after,
    )


@then("the registry entries name the VM's VMId")
def registry_vmid(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    ids = {
        node: [r["registry"]["vm_id"] for r in res if r["resource_type"] == "Virtual Machine"]
        for node, res in o.after.resources.items()
    }
    check(
        all(v == [o.vm.id] for v in ids.values()),
        "Parameters\\VmID of the Virtual Machine resource must be the VM's VMId",
        vm_id=o.vm.id,
        registry=ids,
    )


@then("the VM has the same VMId and MAC addresses as before")
def guest_identity(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None and o.before.details and o.after.details
    b, a = o.before.details, o.after.details
    check(
        b.id == a.id and b.macs == a.macs,
        "the guest keeps its VMId and MAC addresses",
        before={"id": b.id, "macs": list(b.macs)},
        after={"id": a.id, "macs": list(a.macs)},
    )


@then("the guest's KVP host name shows the target node within the allowed time")
def kvp_updated(scn: Scenario) -> None:
    o = scn.need_outcome()
    timeout = scn.threshold("kvp_update_timeout_s", "KVP update timeout", "s")
    seen: dict[str, str] = {}

    def shows_target() -> dict[str, str] | None:
        items = scn.cluster.kvp(o.vm.name, o.final_owner)
        seen.clear()
        seen.update(items)
        scn.evidence.observe("during", "KVP", items)
        return items if kvp_names_host(items, o.final_owner) else None

    found = scn.cluster.wait_until(shows_target, timeout, "KVP host name", o.final_owner)
    if not found and "PhysicalHostNameFullyQualified" not in seen:
        too_thin("the guest's KVP has no PhysicalHostNameFullyQualified item", items=seen)
    check(
        bool(found),
        "KVP PhysicalHostName and PhysicalHostNameFullyQualified must both show the new host",
        target=o.final_owner,
        short=seen.get("PhysicalHostName"),
        fully_qualified=seen.get("PhysicalHostNameFullyQualified"),
        timeout_s=timeout,
    )
