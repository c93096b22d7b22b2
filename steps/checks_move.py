"""Then steps about the move itself: Saved state, storage, files, state, timing, interface."""

from __future__ import annotations

from pytest_bdd import given, parsers, then

from harness.audit import windows
from harness.audit.assertions import check, too_thin
from harness.audit.moves import MoveOutcome
from harness.domain.storage import SharedStorage, expected_downtime_s, is_under
from steps.common import Scenario


@then("the VM finished offline on its original owner before it came online on the target")
def offline_before_online(scn: Scenario) -> None:
    windows.offline_before_online(scn.need_outcome())


@then("the VM was Saving or Saved while its original owner still held it")
def saved_on_source(scn: Scenario) -> None:
    witnesses = windows.saved_on_source(scn.need_outcome())
    scn.evidence.observe("during", "save witnesses", witnesses)


@then("the VM resource's offline action is Save")
def offline_action_save(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    actions = {
        node: [r.get("offline_action") for r in res if r["resource_type"] == "Virtual Machine"]
        for node, res in o.after.resources.items()
    }
    scn.evidence.observe("after", "offline_action", actions)
    values = {a for acts in actions.values() for a in acts}
    check(values == {1}, "the VM resource's OfflineAction must be 1 (Save)", offline_action=actions)


@then("the VM is running on the target node")
@then("polling shows the VM running on the target node")
def running_on_target(scn: Scenario) -> None:
    for o in scn.outcomes or [scn.need_outcome()]:
        assert o.after is not None
        expected = o.requested_node
        state = o.after.details.state if o.after.details else None
        check(
            o.refused is None,
            "the move must be accepted",
            refusal=o.refused.target_message if o.refused else None,
        )
        check(
            (expected is None or o.final_owner == expected) and o.final_owner != o.source,
            f"VM {o.vm.name!r} must be owned by the target node after the move",
            source=o.source,
            target=expected,
            owner=o.final_owner,
        )
        check(state == "Running", f"VM {o.vm.name!r} must be running after the move", state=state)


@then("saved-state files were observed while the VM was being saved")
def saved_files_seen(scn: Scenario) -> None:
    files = windows.saved_files(scn.need_outcome())
    scn.evidence.observe("during", "saved-state files written", files)
    scn.data["saved_files"] = files


def _saved_files(scn: Scenario) -> list[str]:
    files: list[str] = scn.data.get("saved_files", [])
    return files


def _shared(scn: Scenario, o: MoveOutcome) -> SharedStorage:
    """The cluster's shared storage for this VM: its SMB 3 share is the one its files are on,
    counted as shared only if the nodes' SMB connections to it are continuously available."""
    d = o.before.details
    own = [o.vm.path, *(p for p in (d.paths.values() if d else ()) if p)]
    shared = o.before.inventory.shared_storage(o.vm.group, own)
    if "smb_available" not in scn.data:
        said: dict[str, bool | None] = {}
        for root in shared.smb_roots:
            # The VM's own path on that share (what a capture holds); the share's root else.
            path = next((p for p in own if is_under(p, root)), root)
            said[root] = _continuously_available(scn, path, sorted({o.source, o.final_owner}))
        scn.data["smb_available"] = said
    return shared.with_availability(scn.data["smb_available"])


def _continuously_available(scn: Scenario, path: str, nodes: list[str]) -> bool | None:
    """What the nodes that ran the VM say of its share: any connection not continuously
    available decides False, else any that is decides True; None when none had a connection."""
    seen: list[bool] = []
    for node in nodes:
        smb = scn.cluster.path_info(path, node)["smb"]
        scn.evidence.observe("after", f"SMB connection for {path} on {node}", smb)
        if smb is not None and smb["continuously_available"] is not None:
            seen.append(bool(smb["continuously_available"]))
    if not seen:
        return None
    return all(seen)


@then("every saved-state file lies on storage the cluster reports as shared")
def saved_files_shared(scn: Scenario) -> None:
    o = scn.need_outcome()
    shared = _shared(scn, o)
    kinds = {f: shared.classify(f) for f in _saved_files(scn)}
    scn.evidence.observe("after", "saved-state storage", kinds)
    unresolved = [f for f, k in kinds.items() if k == "unresolved"]
    check(
        bool(kinds) and not {"local", "SMB not CA"} & set(kinds.values()),
        "saved state must be on a CSV, a Cluster Disk of the VM's group, or a continuously "
        "available SMB 3 share known for the VM",
        files=kinds,
        csvs=list(shared.csv_roots),
        group_disks=list(shared.group_disk_roots),
        smb_shares=list(shared.smb_roots),
        smb_continuously_available=dict(shared.smb_available),
    )
    if unresolved:
        too_thin(
            "saved-state paths in 8.3 short form, or on an SMB share whose continuous "
            "availability the source could not report (no connection), cannot be judged",
            files=unresolved,
            smb_continuously_available=dict(shared.smb_available),
        )


@then("no saved-state file lies on a node-local disk")
def saved_files_not_local(scn: Scenario) -> None:
    o = scn.need_outcome()
    shared = _shared(scn, o)
    local = [f for f in _saved_files(scn) if shared.classify(f) == "local"]
    check(not local, "no saved-state file may be on a node-local disk", local=local)


@then("the VM's heartbeat was lost during the move")
def heartbeat_lost(scn: Scenario) -> None:
    beats = windows.heartbeat_lost(scn.need_outcome())
    scn.evidence.observe("during", "heartbeats in the save/restore window", beats)


@then("the measured unavailability window is reported")
def window_reported(scn: Scenario) -> None:
    o = scn.need_outcome()
    if o.downtime_s is None:
        too_thin("neither events nor polls bracket the unavailability window", **o.polls())
    check(o.downtime_s > 0, "the unavailability window must be positive", downtime_s=o.downtime_s)


@then("the VM's configuration, snapshot, smart paging and virtual disk paths are unchanged")
def paths_unchanged(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    before, after = o.before.details, o.after.details
    check(before is not None and after is not None, "the VM must be visible before and after")
    assert before is not None and after is not None
    check(
        before.paths == after.paths and before.disk_paths == after.disk_paths,
        "files must not move: every path must be identical before and after",
        before={**before.paths, "disks": list(before.disk_paths)},
        after={**after.paths, "disks": list(after.disk_paths)},
    )


@then("the Cluster Disk holding the VM is owned by the target node")
@then("the pass-through disk's resource is owned by the target node")
def disk_follows(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    disks = o.after.inventory.disks_of_group(o.vm.group)
    owners = {d.name: d.owner_node for d in disks}
    check(bool(disks), "the VM's group must hold a Physical Disk resource", group=o.vm.group)
    check(
        all(owner == o.final_owner for owner in owners.values()),
        "the Physical Disk resources of the VM's group must move to the target",
        target=o.final_owner,
        disk_owners=owners,
    )


@then("no Cluster Shared Volume changed owner because of the move")
def csv_unchanged(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    before = {c["name"]: c["owner_node"] for c in o.before.inventory.csvs}
    after = {c["name"]: c["owner_node"] for c in o.after.inventory.csvs}
    check(
        before == after,
        "CSV ownership is not transferred by a quick migration",
        before=before,
        after=after,
    )


@given("the pass-through disk is a Physical Disk resource in the VM's cluster group")
def passthrough_in_group(scn: Scenario) -> None:
    vm = scn.need_vm()
    disks = scn.inventory().disks_of_group(vm.group)
    scn.evidence.observe("before", "group disks", [d.name for d in disks])
    check(
        bool(disks),
        "a pass-through disk must be a Physical Disk resource in the VM's group",
        group=vm.group,
    )


@then("the target node reaches the VM's storage")
def target_reaches(scn: Scenario) -> None:
    vm, node = scn.need_vm(), scn.target_node
    assert node is not None
    info = scn.cluster.path_info(vm.path, node)
    scn.evidence.observe("before", f"path_info on {node}", info)
    if vm.storage == "Cluster Disk":
        # Reached after the disk changes owner ("not necessarily simultaneously"): the target
        # must be a possible owner of the disk, checked by the next step.
        disks = scn.inventory().disks_of_group(vm.group)
        check(
            bool(disks) and all(node in d.possible_owners for d in disks),
            "the target must be able to take the VM's Cluster Disk",
            node=node,
            disks={d.name: list(d.possible_owners) for d in disks},
        )
        return
    if info.get("access_denied"):
        # The share refused this session, not the node: Hyper-V reaches it as the computer
        # account, the audit's session has no network credentials (the second hop).
        too_thin(
            f"{node} refused this session {vm.path} (no network credentials for a second hop), "
            "so whether the node reaches it cannot be looked at; fix: CredSSP for the target, "
            "resource-based Kerberos constrained delegation to the file server, or an audit "
            "account with rights on the share",
            node=node,
            path=vm.path,
        )
    check(bool(info["exists"]), "the target must reach the VM's storage", node=node, path=vm.path)


@then("the target node is a possible owner of the VM's storage")
def target_possible_owner(scn: Scenario) -> None:
    vm, node = scn.need_vm(), scn.target_node
    assert node is not None
    inventory = scn.inventory()
    group = inventory.group_of(vm.name)
    disks = {d.name: list(d.possible_owners) for d in inventory.disks_of_group(vm.group)}
    csvs = {c["name"]: c["state"] for c in inventory.csvs}
    ok = (not group.possible_owners or node in group.possible_owners) and all(
        node in owners for owners in disks.values()
    )
    if vm.storage == "CSV":
        ok = ok and all(state == "Online" for state in csvs.values())
    check(
        ok,
        "the target must be a possible owner of the VM and its storage",
        node=node,
        vm_possible_owners=list(group.possible_owners),
        disks=disks,
        csvs=csvs,
    )


@then("the command returned while the VM's group was still pending")
def returned_pending(scn: Scenario) -> None:
    o = scn.need_outcome()
    assert o.trace is not None
    states = {r["vm"]: r["state"] for r in o.trace.request["requested"]}
    check(
        states.get(o.vm.name) == "Pending",
        "-Wait 0 must return with the group Pending",
        returned=states,
    )


@then(parsers.parse("the VM is in state {state}"))
def vm_in_state_after(scn: Scenario, state: str) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    now = o.after.details.state if o.after.details else None
    check(
        now == state,
        "the VM must keep the state it had before the move",
        expected=state,
        observed=now,
    )


@then(parsers.parse("the VM is still in state {state}"))
def vm_still_in_state(scn: Scenario, state: str) -> None:
    o = scn.need_outcome()
    assert o.after is not None
    now = o.after.details.state if o.after.details else None
    check(
        now == state,
        f"a VM that was {state} must still be {state} after the move",
        owner=o.final_owner,
        observed=now,
    )


@then("the VM is owned by the target node")
def owned_by_target(scn: Scenario) -> None:
    o = scn.need_outcome()
    check(
        o.refused is None and o.final_owner == o.requested_node,
        "a quick migration works whatever the VM's state",
        refusal=o.refused.target_message if o.refused else None,
        owner=o.final_owner,
        target=o.requested_node,
    )


@then("the move took no longer than the bound for a VM that is off")
def off_move_fast(scn: Scenario) -> None:
    o = scn.need_outcome()
    bound = scn.threshold("off_vm_move_bound_s", "bound for a VM that is off", "s")
    if o.move_time_s is None:
        too_thin("no poll saw the VM settled on its new owner", **o.polls())
    # Instant rule: "too slow" needs a poll past the bound that still saw the move unfinished.
    at_least = o.move_time_min_s or 0.0
    if o.move_time_s > bound >= at_least:
        too_thin(
            "the move ended between two polls that straddle the bound",
            move_time_at_least_s=at_least,
            move_time_at_most_s=o.move_time_s,
            bound_s=bound,
            **o.polls(),
        )
    check(
        o.move_time_s <= bound,
        "a VM that is off must move almost instantly",
        move_time_s=o.move_time_s,
        move_time_at_least_s=at_least,
        bound_s=bound,
    )


@then("the move time does not depend on the VM's memory size")
def off_move_not_memory(scn: Scenario) -> None:
    o = scn.need_outcome()
    tp = scn.run.target.throughput_for(o.vm.path)
    full = expected_downtime_s(o.vm.memory_bytes, tp, scn.thresholds.max_downtime_per_gib_s)
    scn.evidence.measure("save+restore time for this memory", full, "s")
    bound = scn.thresholds.off_vm_move_bound_s
    if full <= bound:
        # Saving and restoring this little memory would itself fit in the bound: the move time
        # cannot tell the two apart, and the bound (previous step) is the whole claim here.
        scn.evidence.observe(
            "after", "memory independence", f"not judged: {full:.2f} s of memory time <= bound"
        )
        return
    at_least = o.move_time_min_s or 0.0
    if o.move_time_s is not None and o.move_time_s >= full / 2 > at_least:
        too_thin(
            "the move ended between two polls that straddle half the memory time",
            move_time_at_least_s=at_least,
            move_time_at_most_s=o.move_time_s,
            memory_time_s=full,
        )
    check(
        o.move_time_s is not None and o.move_time_s < full / 2,
        "an Off VM's move must take far less than saving and restoring its memory would",
        move_time_s=o.move_time_s,
        memory_time_s=full,
    )
