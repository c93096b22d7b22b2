"""The lab's answers to the capture probes (capture_*): the raw facts, as the model knows them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.domain.events import SPECS, Channel
from harness.lab import paths, views
from harness.lab.state import iso
from harness.lab.topology import parse_utc

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import Event, NodeState

CAPTURE_PROBES = frozenset(
    {
        "capture_event_providers",
        "capture_vm_events",
        "capture_cluster_parameters",
        "capture_vm_properties",
        "capture_registration_folders",
    }
)
# The logs a capture lists: where the audit's events are written (harness/domain/events.py) and
# the Hyper-V admin channels a bug report may want (names unverified, docs/windows-fidelity.md).
_LOGS = (
    Channel.CLUSTER_OPERATIONAL.value,
    Channel.SYSTEM.value,
    "Microsoft-Windows-Hyper-V-Worker-Admin",
    "Microsoft-Windows-Hyper-V-VMMS-Admin",
)
_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def _strings(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"probe parameter {key!r} must be a list of strings: {value!r}")
    return list(value)


def _template(message: str) -> str:
    # The model formats messages with {0}, {1}; Windows manifests write %1, %2.
    return _PLACEHOLDER.sub(lambda m: f"%{int(m.group(1)) + 1}", message)


def _channel(event: Event) -> str:
    return str(event.log)


def _providers(params: dict[str, Any]) -> dict[str, Any]:
    # The lab's hosts have the Hyper-V-Worker provider too, but the model writes none of its
    # events: the audit relies on none (no public manifest confirms the ids).
    catalogue: dict[str, list[dict[str, Any]]] = {"Microsoft-Windows-Hyper-V-Worker": []}
    for event_id, spec in sorted(SPECS.items()):
        for _count, message in sorted(spec.templates.items()):
            catalogue.setdefault(spec.provider, []).append(
                {
                    "id": int(event_id),
                    "version": 0,
                    # The System-log events the audit reads (1069, 1205) are errors.
                    "level": "Error" if spec.channel is Channel.SYSTEM else "Information",
                    "channel": spec.channel.value,
                    "description": _template(message),
                    "template": "",
                }
            )
    out = []
    for name in _strings(params, "providers"):
        events = catalogue.get(name)
        out.append(
            {
                "name": name,
                "found": events is not None,
                # Get-WinEvent's text for a provider the node does not have.
                "error": None
                if events is not None
                else f"There is not an event provider on "
                f'the localhost computer that matches "{name}".',
                "events": events or [],
            }
        )
    return {"providers": out}


def _vm_events(node: NodeState, params: dict[str, Any]) -> dict[str, Any]:
    since = parse_utc(str(params.get("since_utc")))
    needles = [n.casefold() for n in _strings(params, "vm_names") + _strings(params, "vm_ids")]
    events = []
    for number, event in enumerate(sorted(node.events, key=lambda e: e.time), start=1):
        text = "\n".join([event.message, *event.properties]).casefold()
        if event.time < since or not any(n and n in text for n in needles):
            continue
        events.append(
            {
                "log": _channel(event),
                "provider": event.provider,
                "id": event.id,
                "level": "Information",
                "record_id": number,
                "time_utc": iso(event.time),
                "message": event.message,
                "properties": list(event.properties),
            }
        )
    logs = [{"name": name, "found": True, "error": None} for name in _LOGS]
    return {"logs": logs, "events": events}


def _cluster_parameters(c: LabCluster, node: NodeState, params: dict[str, Any]) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    for name in _strings(params, "vm_names"):
        vm = next((v for v in c.vms.values() if v.name.casefold() == name.casefold()), None)
        if vm is None:
            groups.append({"vm": name, "group": None, "found": False, "resources": []})
            continue
        resources = []
        for res in views.vm_resources(c, node, vm.vm_id)["resources"]:
            parameters = [{"name": "VmID", "value": res["vm_id"], "type": "String"}]
            if res["offline_action"] is not None:
                value = str(res["offline_action"])
                parameters.append({"name": "OfflineAction", "value": value, "type": "UInt32"})
            resources.append(
                {
                    "name": res["name"],
                    "resource_type": res["resource_type"],
                    "state": res["state"],
                    "parameters": parameters,
                }
            )
        groups.append({"vm": name, "group": vm.name, "found": True, "resources": resources})
    return {"groups": groups}


def _vm_properties(
    c: LabCluster, node: NodeState, params: dict[str, Any], now: datetime
) -> dict[str, Any]:
    out = []
    for vm_id in _strings(params, "vm_ids"):
        doc = views.vm_details(c, node, vm_id, now)
        vm = doc.get("vm") if doc.get("found") else None
        if vm is None:
            out.append({"vm_id": vm_id.strip("{}").lower(), "found": False, "properties": []})
            continue
        values = {
            "Name": ("System.String", vm["name"]),
            "Id": ("System.Guid", vm["id"]),
            "State": ("Microsoft.HyperV.PowerShell.VMState", vm["state"]),
            "Version": ("System.String", vm["config_version"]),
            "Path": ("System.String", vm["path"]),
            "ConfigurationLocation": ("System.String", vm["configuration_location"]),
            "SnapshotFileLocation": ("System.String", vm["snapshot_file_location"]),
            "SmartPagingFilePath": ("System.String", vm["smart_paging_file_path"]),
            "MemoryStartup": ("System.Int64", str(vm["memory_startup_bytes"])),
            "MemoryAssigned": ("System.Int64", str(vm["memory_assigned_bytes"])),
            "Heartbeat": ("System.Nullable`1[...VMHeartbeatStatus]", vm["heartbeat"]),
            "IsClustered": ("System.Boolean", str(vm["is_clustered"])),
            "ComputerName": ("System.String", node.name),
        }
        properties = [
            {"name": name, "type": kind, "value": value} for name, (kind, value) in values.items()
        ]
        out.append({"vm_id": vm["id"], "found": True, "properties": properties})
    return {"vms": out}


def _registration_folders(c: LabCluster, node: NodeState, params: dict[str, Any]) -> dict[str, Any]:
    ids = [i.strip("{}").lower() for i in _strings(params, "vm_ids")]
    root = paths.join(node.program_data, "Microsoft\\Windows\\Hyper-V")
    stamp = iso(c.started)
    per_folder: dict[str, list[dict[str, Any]]] = {}
    others: dict[str, int] = {}
    for entry in node.links.values():
        key = paths.norm(entry.folder)
        if any(entry.name.lower().startswith(i) for i in ids):
            per_folder.setdefault(key, []).append(
                {
                    "name": entry.name,
                    "is_directory": False,
                    "bytes": 0,
                    "link_type": entry.link_type,
                    "target": entry.target,
                    "last_write_utc": stamp,
                }
            )
        else:
            others[key] = others.get(key, 0) + 1
    vmcx = {
        "name": "data.vmcx",
        "is_directory": False,
        "bytes": 65536,
        "link_type": None,
        "target": None,
        "last_write_utc": stamp,
    }
    folders = []
    for sub in ("", "Virtual Machines", "Virtual Machines Cache"):
        path = paths.join(root, sub) if sub else root
        entries = list(per_folder.get(paths.norm(path), []))
        registration = views.vm_registration(c, node, ids[0]) if ids else {}
        if registration.get("data_vmcx_present") and paths.same(
            str(registration.get("links_folder", "")), path
        ):
            entries.insert(0, vmcx)
        folders.append(
            {
                "path": path,
                "exists": True,
                "entries": entries,
                "other_entries": others.get(paths.norm(path), 0),
            }
        )
    return {"program_data": node.program_data, "folders": folders}


def capture_answer(
    c: LabCluster, node: NodeState, probe: str, params: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The body of a capture probe's document as `node` of the lab would answer it."""
    if probe == "capture_event_providers":
        return _providers(params)
    if probe == "capture_vm_events":
        return _vm_events(node, params)
    if probe == "capture_cluster_parameters":
        return _cluster_parameters(c, node, params)
    if probe == "capture_vm_properties":
        return _vm_properties(c, node, params, now)
    if probe == "capture_registration_folders":
        return _registration_folders(c, node, params)
    raise ValueError(f"unknown capture probe {probe!r}")
