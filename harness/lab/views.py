"""Per-VM probe documents as one node sees the lab: details, registration, resources, guest."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.errors import LabOperationError
from harness.lab import paths, statefiles, vmconfig
from harness.lab.model import CACHE_SUBFOLDER, HYPER_V_SUBFOLDER, LINKS_SUBFOLDER
from harness.lab.session import LabSession
from harness.lab.state import iso
from harness.lab.topology import derived_guid
from harness.probes.integration import COMPONENT_IDS

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import NodeState, VMState

# PowerShell Direct fails like this when the guest cannot be reached (ERROR_NOT_READY)
GUEST_UNREACHABLE = 21


def _by_id(c: LabCluster, vm_id: str) -> VMState | None:
    wanted = vm_id.strip("{}").lower()
    return next((v for v in c.vms.values() if v.vm_id == wanted), None)


def _heartbeat(vm: VMState) -> str | None:
    if vm.state in ("Off", "Saved"):
        return None
    return "OkApplicationsHealthy" if vm.heartbeat_ok else "LostCommunication"


def _services(vm: Any, up: bool, session: LabSession) -> list[dict[str, Any]]:
    """Get-VMIntegrationService: names and status texts in the session's locale, keyed by the
    component GUID (not localized), status also as the PrimaryOperationalStatus enum name."""
    sync = "Ok" if vm.spec.time_sync_functional else "NoContact"
    rows = [
        (
            COMPONENT_IDS["time_sync"],
            vm.time_sync_enabled,
            sync if vm.time_sync_enabled and up else None,
        ),
        (COMPONENT_IDS["heartbeat"], True, "Ok" if up else None),
        (COMPONENT_IDS["kvp"], True, "Ok" if up else None),
    ]
    return [
        {
            "name": session.service_name(cid),
            "enabled": enabled,
            "primary_status": session.status_text(status),
            "component_id": cid,
            "operational_status": status,
        }
        for cid, enabled, status in rows
    ]


def vm_details(
    c: LabCluster, node: NodeState, vm_id: str, now: datetime, session: LabSession | None = None
) -> dict[str, Any]:
    """Get-VM -Id on this node: found only where the VM is registered."""
    session = session or c.topology.session
    vm = _by_id(c, vm_id)
    if vm is None or vm.vm_id not in node.registered:
        return {"found": False, "vm": None}
    up = vm.state in ("Running", "Paused", "Saving", "Resuming", "Starting")
    uptime = (vm.guest_now(now) - vm.guest_boot).total_seconds() if up else 0.0
    disks: list[dict[str, Any]] = [
        {
            "path": paths.join(vm.folder, "Virtual Hard Disks", f"{vm.name}.vhdx"),
            "disk_number": None,
            "passthrough": False,
        }
    ]
    if vm.spec.passthrough_disk:
        number = 2 + [v.name for v in c.vms.values()].index(vm.name)
        disks.append({"path": None, "disk_number": number, "passthrough": True})
    saved = statefiles.listing(vm, now, c.started)
    listing = "listed"
    if paths.is_unc(vm.folder) and not session.network_credentials:
        # The second hop: the share refuses the session's Get-ChildItem (Hyper-V still uses it).
        saved, listing = [], "denied"
    return {
        "found": True,
        "vm": {
            "name": vm.name,
            "id": vm.vm_id,
            "state": vm.state,
            "config_version": vm.spec.config_version,
            "memory_startup_bytes": vm.memory_bytes,
            "memory_assigned_bytes": vm.memory_bytes if up else 0,
            "path": vm.folder,
            "configuration_location": vm.folder,
            "snapshot_file_location": vm.folder,
            "smart_paging_file_path": smart_paging_path(c, vm),
            "hard_disks": disks,
            "network_adapters": [
                {
                    "name": "Network Adapter" if i == 0 else f"Network Adapter {i + 1}",
                    "mac_address": m,
                    "switch_name": "ClusterSwitch",
                    "connected": True,
                }
                for i, m in enumerate(vm.macs)
            ],
            "uptime_seconds": max(0.0, uptime),
            "heartbeat": _heartbeat(vm),
            "integration_services": _services(vm, up, session),
            "saved_state_files": [
                {"path": p, "bytes": b, "last_write_utc": iso(w)} for p, b, w in saved
            ],
            "is_clustered": True,
            "config": {**vm.config, "checkpoints": list(vm.config.get("checkpoints", []))},
            # The lab reads everything at one instant: the state after the listing is the same.
            "state_after_files": vm.state,
            "saved_state_listing": listing,
        },
    }


def vm_registration(c: LabCluster, node: NodeState, vm_id: str) -> dict[str, Any]:
    """What this node shows of a registration, every folder under its own %ProgramData%."""
    hyper_v = paths.join(node.program_data, HYPER_V_SUBFOLDER)
    folder = paths.join(node.program_data, LINKS_SUBFOLDER)
    cache_folder = paths.join(node.program_data, CACHE_SUBFOLDER)
    wanted = vm_id.strip("{}").lower()
    entries = [
        {"name": e.name, "link_type": e.link_type, "target": e.target}
        for e in node.links.values()
        if paths.same(e.folder, folder) and e.name.lower().startswith(wanted)
    ]
    cached = node.cache.get(wanted)
    cache_entries = (
        [{"name": name, "bytes": size} for name, size in cached[1]]
        if cached is not None and paths.same(cached[0], cache_folder)
        else []
    )
    vm = _by_id(c, wanted)
    known = wanted in node.registered
    return {
        "program_data": node.program_data,
        "links_folder": folder,
        "folder_exists": True,
        "entries": entries,
        "cache_folder": cache_folder,
        "cache_entries": cache_entries,
        "host_store": {"path": paths.join(hyper_v, "data.vmcx"), "present": True},
        "vm_known": known,
        "config_version": vm.spec.config_version if known and vm is not None else None,
    }


def offline_action(c: LabCluster, vm: VMState) -> int:
    """The VM resource's OfflineAction: 1 (Save) unless rule offline_action_save is off."""
    if c.rule_on("offline_action_save", vm):
        return 1
    return int(c.rule_params("offline_action_save", vm).get("value", 0))


def smart_paging_path(c: LabCluster, vm: VMState) -> str:
    """Beside the VM, unless rule state_paths_on_vm_storage is off: a node-local folder."""
    if c.rule_on("state_paths_on_vm_storage", vm):
        return vm.folder
    given = c.rule_params("state_paths_on_vm_storage", vm).get("path")
    home = c.node(vm.spec.owner).program_data  # where the VM was created: it stays there
    return str(given or paths.join(home, HYPER_V_SUBFOLDER, "SmartPaging"))


def vm_resources(c: LabCluster, node: NodeState, vm_id: str) -> dict[str, Any]:
    """The VM's two cluster resources with HKLM\\Cluster\\Resources\\{id} as this node reads it.

    Rule registry_view_consistent off for a node: that node's copy of the cluster database
    is stale: it shows the VM resource with an old VmID.
    """
    vm = _by_id(c, vm_id)
    if vm is None:
        return {"resources": [], "group": None}
    consistent = c.rule_on("registry_view_consistent", vm, (node.name,))
    out = []
    for rid, name, rtype, state, action in (
        (
            vm.vm_resource_id,
            f"Virtual Machine {vm.name}",
            "Virtual Machine",
            vm.resource_state,
            offline_action(c, vm),
        ),
        (
            vm.config_resource_id,
            f"Virtual Machine Configuration {vm.name}",
            "Virtual Machine Configuration",
            vm.config_state,
            None,
        ),
    ):
        seen_id = vm.vm_id
        if not consistent and rtype == "Virtual Machine":
            seen_id = derived_guid("stale-registry", vm.vm_id, node.name)
        private = vmconfig.private_values(vm, rtype)
        if action is not None:
            private["OfflineAction"] = str(action)
        out.append(
            {
                "id": rid,
                "name": name,
                "resource_type": rtype,
                "owner_group": vm.name,
                "owner_node": vm.owner,
                "state": state,
                "offline_action": action,
                "vm_id": vm.vm_id,
                "registry": {
                    "present": True,
                    "name": name,
                    "type": rtype,
                    "vm_id": seen_id,
                    "parameters": vmconfig.registry_parameters(private, seen_id),
                },
                "private": private,
                "common": vmconfig.common_values(c, vm),
            }
        )
    return {"resources": out, "group": vmconfig.group_values(vm)}


def _guest(c: LabCluster, node: NodeState, vm_name: str) -> VMState:
    """PowerShell Direct: only on the owner, only while the guest runs."""
    vm = c.vm(vm_name)
    if vm.owner != node.name or vm.vm_id not in node.registered:
        raise LabOperationError(
            GUEST_UNREACHABLE, f"The virtual machine '{vm_name}' is not on host {node.name}"
        )
    if vm.state != "Running":
        raise LabOperationError(
            GUEST_UNREACHABLE, f"The virtual machine '{vm_name}' is not running ({vm.state})"
        )
    return vm


def guest_clock(c: LabCluster, node: NodeState, vm_name: str, now: datetime) -> dict[str, Any]:
    """The guest's UTC between two host readings (equal on the lab clock)."""
    vm = _guest(c, node, vm_name)
    return {
        "host_utc_before": iso(now),
        "guest_utc": iso(vm.guest_now(now)),
        "host_utc_after": iso(now),
        "guest_last_boot_utc": iso(vm.guest_boot),
    }


def guest_kvp(c: LabCluster, node: NodeState, vm_name: str) -> dict[str, Any]:
    """HKLM\\SOFTWARE\\Microsoft\\Virtual Machine\\Guest\\Parameters inside the guest."""
    vm = _guest(c, node, vm_name)
    domain = f"{c.topology.cluster.name.lower()}.lab"
    return {
        "items": {
            "HostName": vm.kvp_host,
            "PhysicalHostName": vm.kvp_host,
            "PhysicalHostNameFullyQualified": f"{vm.kvp_fqdn_host}.{domain}",
            "VirtualMachineName": vm.name,
            "VirtualMachineId": vm.vm_id.upper(),
        }
    }
