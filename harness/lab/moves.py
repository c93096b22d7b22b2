"""The migration rules: quick (save, transfer, restore), registration-only, live; the request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from harness.domain.events import EventId
from harness.errors import LabOperationError
from harness.lab import paths, vmconfig
from harness.lab.model import READINGS_BEFORE_TIME_SYNC
from harness.lab.state import MoveRecord, SavedState
from harness.lab.storage import StorageRef
from harness.lab.topology import derived_guid, derived_mac

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import VMState

METADATA_BYTES = 64 * 1024
KVP_DELAY_S = 3.0
TIME_SYNC_SAMPLE_S = 5.0
MB = 1_000_000


def state_location(c: LabCluster, vm: VMState, source: str) -> tuple[str, StorageRef]:
    """The folder that receives the saved state, and the storage it lies on.

    Rule saved_state_on_vm_storage off: a node-local folder that only looks shared,
    `<source system drive>ClusterStorage\\Volume1-old\\<vm>` (or params.path).
    """
    node = c.node(source)
    if c.rule_on("saved_state_on_vm_storage", vm, (node.name,)):
        ref = c.storage_of(vm.folder, node.name)
        if ref is None:
            raise LabOperationError(5023, f"The storage of '{vm.name}' is not reachable")
        return vm.folder, ref
    params = c.rule_params("saved_state_on_vm_storage", vm, (node.name,))
    root = str(
        params.get("path")
        or paths.join(paths.drive(node.program_data), "ClusterStorage\\Volume1-old")
    )
    ref = next((r for r in node.extra_local if paths.same(r.root, root)), None)
    if ref is None:
        disk = c.storage_of(paths.drive(root), node.name)
        read, write = (disk.read_mb_s, disk.write_mb_s) if disk else (300.0, 200.0)
        ref = StorageRef("local", root, root, read, write, node.name)
        node.extra_local.append(ref)
    return paths.join(root, vm.name), ref


def saved_state_for(vm: VMState, folder: str, t0: datetime, write_bps: float) -> SavedState:
    """Saved-state files by configuration version: .vmrs/.vmgs (9.0) or .bin/.vsv (5.0)."""
    vm_dir = paths.join(folder, "Virtual Machines")
    vid = vm.vm_id.upper()
    if vm.spec.config_version == "5.0":
        files = [
            (paths.join(vm_dir, vid, f"{vid}.bin"), vm.memory_bytes),
            (paths.join(vm_dir, vid, f"{vid}.vsv"), 20 * 1024 * 1024),
        ]
    else:
        files = [
            (paths.join(vm_dir, f"{vid}.vmrs"), vm.memory_bytes),
            (paths.join(vm_dir, f"{vid}.vmgs"), 4 * 1024 * 1024),
        ]
    return SavedState(files, t0, write_bps, grows=vm.spec.config_version != "5.0")


def storage_rates(
    c: LabCluster, vm: VMState, ref: StorageRef, nodes: tuple[str, ...]
) -> tuple[float, float]:
    """(write, read) bytes/s; storage_speed_as_declared off: params.factor (10) times slower."""
    factor = 1.0
    if not c.rule_on("storage_speed_as_declared", vm, nodes):
        factor = float(c.rule_params("storage_speed_as_declared", vm, nodes).get("factor", 10))
    return ref.write_mb_s * MB / factor, ref.read_mb_s * MB / factor


def schedule_time_sync(c: LabCluster, vm: VMState, at: datetime) -> None:
    """Working time sync moves a lagging guest clock forward at its next 5 s sample."""

    def correct(when: datetime) -> None:
        if (
            vm.time_sync_enabled
            and vm.spec.time_sync_functional
            and vm.frozen_guest is None
            and vm.state == "Running"
            and c.rule_on("time_sync_corrects", vm, (vm.owner,))
            and vm.clock_offset_s < 0
        ):
            vm.clock_offset_s = 0.0

    due = at + timedelta(seconds=TIME_SYNC_SAMPLE_S)
    c.schedule(due, correct)
    c.pace((at, due), readings=READINGS_BEFORE_TIME_SYNC)


def schedule_kvp(c: LabCluster, vm: VMState, source: str, at: datetime) -> None:
    """The guest's KVP PhysicalHostName follows the new host a few seconds after it runs."""
    if not c.rule_on("kvp_host_updated", vm, (source, vm.owner)):
        return

    fqdn_follows = c.rule_on("kvp_fqdn_updated", vm, (source, vm.owner))

    def update(when: datetime) -> None:
        vm.kvp_host = vm.owner
        if fqdn_follows:
            vm.kvp_fqdn_host = vm.owner

    c.schedule(at + timedelta(seconds=KVP_DELAY_S), update)


def transfer(
    c: LabCluster, vm: VMState, source: str, target: str, at: datetime, rec: MoveRecord
) -> None:
    """Ownership changes hands: registration, disk, owner; files, GUIDs and MACs stay."""
    nodes = (source, target)
    if not c.rule_on("files_stay", vm, nodes):
        vm.folder = paths.join(vm.spec.storage, f"{vm.name}-{target}")
    disk = c.cluster_disk_of(vm)
    if c.rule_on("registration_copied_to_target", vm, nodes):
        c.register(vm, target)
    # Rule later_moves_clean_up off: only the VM's first move (history holds this one) cleans up.
    first_move = len(vm.history) <= 1
    if c.rule_on("registration_removed_from_source", vm, nodes) and (
        first_move or c.rule_on("later_moves_clean_up", vm, nodes)
    ):
        c.unregister(vm, source)
    if disk is not None and c.rule_on("disk_ownership_follows", vm, nodes):
        c.disk_owner[disk] = target
    vm.owner = target
    if not c.rule_on("resource_identity_stable", vm, nodes):
        n = len(vm.history)
        vm.vm_resource_id = derived_guid(vm.vm_resource_id, "moved", target, str(n))
        vm.config_resource_id = derived_guid(vm.config_resource_id, "moved", target, str(n))
    if not c.rule_on("guest_identity_stable", vm, nodes):
        vm.macs = tuple(
            derived_mac(vm.vm_id + target + str(len(vm.history)), i) for i in range(len(vm.macs))
        )
    vmconfig.on_transfer(c, vm, source, target)
    c.count_network(source, target, METADATA_BYTES)
    rec.network_bytes += METADATA_BYTES
    rec.transferred_at = at


def storage_traffic(c: LabCluster, vm: VMState, ref: StorageRef, source: str, target: str) -> None:
    """The save's writes and the restore's reads cross the cluster networks when the storage is
    an SMB 3 share (SMB traffic uses every network the nodes share with the file server) or a
    CSV in redirected I/O (through its coordinator): counted on the nodes' cluster adapters."""
    size = vm.memory_bytes
    if ref.kind == "smb":
        c.node(source).sent_bytes += size
        c.node(target).received_bytes += size
        return
    csv = next((v for v in c.topology.csvs if v.name == ref.name), None)
    if ref.kind != "csv" or csv is None or not csv.redirected:
        return
    coordinator = next((n.name for n in c.nodes.values() if n.member and n.state == "Up"), None)
    if coordinator is None:
        return
    if source.lower() != coordinator.lower():
        c.count_network(source, coordinator, size)
    if target.lower() != coordinator.lower():
        c.count_network(coordinator, target, size)


def start_quick(c: LabCluster, vm: VMState, target: str, now: datetime) -> datetime:
    """Quick migration of a Running/Paused VM; returns when it completes (t2)."""
    source = vm.owner
    nodes = (source, target)
    folder, ref = state_location(c, vm, source)
    write_bps, read_bps = storage_rates(c, vm, ref, nodes)
    disk = c.cluster_disk_of(vm)
    disk_moves = disk is not None and c.rule_on("disk_ownership_follows", vm, nodes)
    transfer_s = 0.5 + (1.5 if disk_moves else 0.0)
    save_first = c.rule_on("save_before_move", vm, nodes)
    t0 = now
    t1 = t0 + timedelta(seconds=vm.memory_bytes / write_bps + (0 if save_first else transfer_s))
    t_transfer = t1 + timedelta(seconds=transfer_s) if save_first else t0
    t_resume = t_transfer if save_first else t1
    t2 = t_resume + timedelta(seconds=vm.memory_bytes / read_bps)
    before = vm.state
    vm.saved = saved_state_for(vm, folder, t0, write_bps)
    rec = MoveRecord(
        vm.name,
        "quick",
        source,
        target,
        t0,
        state_before=before,
        saved_state_paths=tuple(p for p, _ in vm.saved.files),
    )
    vm.history.append(rec)
    vm.moving_to = target
    c.log(source, EventId.ROLE_MOVING, t0, vm.name, source, target)
    c.log(source, EventId.ROLE_OFFLINE_BEGIN, t0, vm.name)
    vm.group_state, vm.resource_state, vm.state = "Pending", "OfflinePending", "Saving"
    if c.rule_on("unavailable_while_moving", vm, nodes):
        vm.heartbeat_ok = False
    if c.rule_on("guest_clock_frozen_while_saved", vm, nodes):
        vm.frozen_guest = vm.guest_now(t0)
    if not c.rule_on("metadata_only_network", vm, nodes):
        c.count_network(source, target, vm.memory_bytes)
        rec.network_bytes += vm.memory_bytes
    if not save_first:
        transfer(c, vm, source, target, t0, rec)
    storage_traffic(c, vm, ref, source, target)

    def saved(at: datetime) -> None:
        vm.state, vm.resource_state = "Saved", "Offline"
        assert vm.saved is not None
        vm.saved.finish(at)
        rec.saved_at = at
        c.log(vm.owner, EventId.ROLE_OFFLINE, at, vm.name)

    def resume(at: datetime) -> None:
        if save_first:
            transfer(c, vm, source, target, at, rec)
        restore = c.rule_on("restore_from_saved_state", vm, nodes)
        vm.state = "Resuming" if restore else "Starting"
        vm.resource_state = "OnlinePending"
        c.log(target, EventId.ROLE_ONLINE_BEGIN, at, vm.name)

    def online(at: datetime) -> None:
        restored = c.rule_on("restore_from_saved_state", vm, nodes)
        keep = c.rule_on("state_restored", vm, nodes)
        vm.saved = None
        vm.state_files_written = at
        vm.moving_to = None
        if restored and vm.frozen_guest is not None:
            vm.clock_offset_s = (vm.frozen_guest - at).total_seconds()
        if not restored:
            vm.clock_offset_s, vm.guest_boot = 0.0, at
        vm.frozen_guest = None
        vm.state = before if keep else "Off"
        running = vm.state in ("Running", "Paused")
        vm.group_state = vm.resource_state = "Online" if running else "Offline"
        vm.heartbeat_ok = vm.state == "Running"
        rec.completed_at, rec.state_after = at, vm.state
        if running:
            c.log(target, EventId.ROLE_ONLINE, at, vm.name)
            schedule_kvp(c, vm, source, at)
            schedule_time_sync(c, vm, at)
        vmconfig.after_settled(c, vm, source, at)

    c.schedule(t1, saved)
    c.schedule(t_resume, resume)
    c.schedule(t2, online)
    c.pace((t0, t1), (t1, t_resume), (t_resume, t2))
    return t2


def start_registration(c: LabCluster, vm: VMState, target: str, now: datetime) -> datetime:
    """Off/Saved VM: only the registration (and disk ownership) moves; the state is kept."""
    source = vm.owner
    nodes = (source, target)
    duration = 0.3
    if not c.rule_on("off_vm_instant", vm, nodes):
        ref = c.storage_of(vm.folder, source)
        write_bps, read_bps = storage_rates(c, vm, ref, nodes) if ref else (MB * 100.0, MB * 100.0)
        duration += vm.memory_bytes / write_bps + vm.memory_bytes / read_bps
    before = vm.state
    rec = MoveRecord(vm.name, "registration", source, target, now, state_before=before)
    vm.history.append(rec)
    vm.moving_to, vm.group_state = target, "Pending"
    c.log(source, EventId.ROLE_MOVING, now, vm.name, source, target)

    def done(at: datetime) -> None:
        transfer(c, vm, source, target, at, rec)
        if not c.rule_on("state_restored", vm, nodes):
            vm.state, vm.saved, vm.state_files_written = "Off", None, at
        vm.group_state, vm.moving_to = "Offline", None
        rec.completed_at, rec.state_after = at, vm.state
        vmconfig.after_settled(c, vm, source, at)

    end = now + timedelta(seconds=duration)
    c.schedule(end, done)
    c.pace((now, end))
    return end


def start_live(c: LabCluster, vm: VMState, target: str, now: datetime) -> datetime:
    """Live migration (drain, priority >= threshold): memory crosses the network, no Saved state."""
    source = vm.owner
    duration = vm.memory_bytes / (c.topology.cluster.network_mb_s * MB) + 0.5
    rec = MoveRecord(vm.name, "live", source, target, now, state_before=vm.state)
    vm.history.append(rec)
    vm.moving_to, vm.group_state = target, "Pending"
    c.log(source, EventId.ROLE_MOVING, now, vm.name, source, target)

    def done(at: datetime) -> None:
        transfer(c, vm, source, target, at, rec)
        c.count_network(source, target, vm.memory_bytes)
        rec.network_bytes += vm.memory_bytes
        vm.group_state, vm.moving_to = "Online", None
        rec.completed_at, rec.state_after = at, vm.state
        schedule_kvp(c, vm, source, at)
        vmconfig.after_settled(c, vm, source, at)

    end = now + timedelta(seconds=duration)
    c.schedule(end, done)
    c.pace((now, end))
    return end


def start_move(
    c: LabCluster, vm: VMState, target: str, now: datetime, live: bool = False
) -> datetime:
    """Start the right kind of move for the VM's state; returns when it will be complete."""
    if target.lower() == vm.owner.lower():
        vm.history.append(
            MoveRecord(
                vm.name,
                "noop",
                vm.owner,
                vm.owner,
                now,
                completed_at=now,
                state_before=vm.state,
                state_after=vm.state,
            )
        )
        return now
    if vm.state in ("Off", "Saved"):
        return start_registration(c, vm, target, now)
    if live and vm.state == "Running":
        return start_live(c, vm, target, now)
    return start_quick(c, vm, target, now)
