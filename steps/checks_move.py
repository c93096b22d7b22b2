"""Then steps about the move itself: Saved state, storage, files, state, timing, interface."""

from __future__ import annotations

from pytest_bdd import given, parsers, then

from harness.audit import arrival, movetime, ownership, reach, shares, windows
from harness.audit.assertions import check, too_thin
from harness.audit.downtime import expected_downtime
from harness.domain.storage import SharedStorage
from harness.run.scenario import Scenario


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
    arrival.judge_running_on_target(scn.outcomes or [scn.need_outcome()])


@then("saved-state files were observed while the VM was being saved")
def saved_files_seen(scn: Scenario) -> None:
    files = windows.saved_files(scn.need_outcome())
    scn.evidence.observe("during", "saved-state files written", files)
    scn.data["saved_files"] = files


def _saved_files(scn: Scenario) -> list[str]:
    files: list[str] = scn.data.get("saved_files", [])
    return files


def _shared(scn: Scenario) -> SharedStorage:
    """The cluster's shared storage for this VM: its SMB 3 share is the one its files are on,
    counted as shared only if the nodes' SMB connections to it are continuously available."""
    o = scn.need_outcome()
    shared = shares.shared_storage(o)
    if "smb_available" not in scn.data:
        scn.data["smb_available"] = shares.availability(scn.cluster, o, shared, scn.evidence)
    return shared.with_availability(scn.data["smb_available"])


@then("every saved-state file lies on storage the cluster reports as shared")
def saved_files_shared(scn: Scenario) -> None:
    shares.judge_files(_saved_files(scn), _shared(scn), scn.evidence)


@then("no saved-state file lies on a node-local disk")
def saved_files_not_local(scn: Scenario) -> None:
    shared = _shared(scn)
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
    ownership.judge_disks_follow(scn.need_outcome())


@then("no Cluster Shared Volume changed owner because of the move")
def csv_unchanged(scn: Scenario) -> None:
    ownership.judge_csvs_stay(scn.need_outcome())


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
    reach.judge_reaches(scn.cluster, scn.inventory, vm, node, scn.evidence)


@then("the target node is a possible owner of the VM's storage")
def target_possible_owner(scn: Scenario) -> None:
    vm, node = scn.need_vm(), scn.target_node
    assert node is not None
    reach.judge_owner(scn.inventory(), vm, node)


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
    arrival.judge_kept_state(scn.need_outcome(), state)


@then(parsers.parse("the VM is still in state {state}"))
def vm_still_in_state(scn: Scenario, state: str) -> None:
    arrival.judge_still_in_state(scn.need_outcome(), state)


@then("the VM is owned by the target node")
def owned_by_target(scn: Scenario) -> None:
    arrival.judge_owned_by_target(scn.need_outcome())


@then("the move took no longer than the bound for a VM that is off")
def off_move_fast(scn: Scenario) -> None:
    o = scn.need_outcome()
    bound = scn.threshold("off_vm_move_bound_s", "bound for a VM that is off", "s")
    movetime.judge_bound(o, bound)


@then("the move time does not depend on the VM's memory size")
def off_move_not_memory(scn: Scenario) -> None:
    o = scn.need_outcome()
    tp = scn.run.target.throughput_for(o.vm.path)
    full = expected_downtime(o.vm, tp, scn.thresholds.max_downtime_per_gib_s)
    scn.evidence.measure("save+restore time for this memory", full, "s")
    movetime.judge_memory(o, full, scn.thresholds.off_vm_move_bound_s, scn.evidence)
