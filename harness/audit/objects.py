"""Model objects built from validated probe documents (what the steps reason about)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.domain import events
from harness.domain.storage import SharedStorage
from harness.probes.integration import service_status, time_sync_service


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp as produced by the probes (Z suffix, up to 7 digits)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Windows writes 7 fractional digits; Python accepts at most 6.
    if "." in value:
        head, rest = value.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class NodeInfo:
    name: str
    state: str
    drain_status: str


@dataclass(frozen=True)
class DiskInfo:
    name: str
    owner_node: str
    owner_group: str | None
    possible_owners: tuple[str, ...]
    mount_points: tuple[str, ...]


@dataclass(frozen=True)
class VmGroup:
    name: str
    vm_name: str
    vm_id: str
    owner_node: str
    state: str
    priority: int
    preferred_owners: tuple[str, ...]
    possible_owners: tuple[str, ...]


@dataclass(frozen=True)
class Inventory:
    """The cluster as one node reports it."""

    cluster: str
    move_type_threshold: int
    nodes: tuple[NodeInfo, ...]
    csvs: tuple[dict[str, Any], ...]
    disks: tuple[DiskInfo, ...]
    groups: tuple[VmGroup, ...]
    host_utc: datetime
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Inventory:
        return cls(
            cluster=doc["cluster"]["name"],
            move_type_threshold=int(doc["cluster"]["move_type_threshold"]),
            nodes=tuple(NodeInfo(n["name"], n["state"], n["drain_status"]) for n in doc["nodes"]),
            csvs=tuple(doc["csvs"]),
            disks=tuple(
                DiskInfo(
                    d["name"],
                    d["owner_node"],
                    d.get("owner_group"),
                    tuple(d["possible_owners"]),
                    tuple(d["mount_points"]),
                )
                for d in doc["cluster_disks"]
            ),
            groups=tuple(
                VmGroup(
                    g["name"],
                    g["vm_name"],
                    g["vm_id"],
                    g["owner_node"],
                    g["state"],
                    int(g["priority"]),
                    tuple(g["preferred_owners"]),
                    tuple(g["possible_owners"]),
                )
                for g in doc["vm_groups"]
            ),
            host_utc=parse_utc(doc["host_utc"]),
            raw=doc,
        )

    def node(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name.casefold() == name.casefold()), None)

    def up_nodes(self) -> list[str]:
        return [n.name for n in self.nodes if n.state == "Up"]

    def group_of(self, vm_name: str) -> VmGroup:
        for group in self.groups:
            if group.vm_name == vm_name:
                return group
        raise KeyError(vm_name)

    def shared_storage(self, group: str | None, vm_paths: Iterable[str] = ()) -> SharedStorage:
        """What the cluster shares for the VM of `group`; `vm_paths` (the VM's own configured
        paths) make the SMB 3 share its files are on known for it."""
        return SharedStorage.from_inventory(
            (c["friendly_volume_name"] for c in self.csvs),
            ((m, d.owner_group) for d in self.disks for m in d.mount_points),
            group,
            smb_roots=vm_paths,
            nodes=(n.name for n in self.nodes),
        )

    def disks_of_group(self, group: str) -> list[DiskInfo]:
        return [d for d in self.disks if d.owner_group == group]

    def roles_on(self, node: str) -> list[VmGroup]:
        return [g for g in self.groups if g.owner_node.casefold() == node.casefold()]


@dataclass(frozen=True)
class SavedFile:
    """A saved-state file as Get-ChildItem shows it: path, Length and LastWriteTimeUtc."""

    path: str
    bytes: int
    last_write: datetime | None


@dataclass(frozen=True)
class VmDetails:
    """One VM as its owner's Hyper-V reports it."""

    node: str
    name: str
    id: str
    state: str
    config_version: str
    memory_bytes: int
    path: str
    paths: dict[str, str | None]
    disk_paths: tuple[str | None, ...]
    passthrough: bool
    macs: tuple[str, ...]
    uptime_s: float
    heartbeat: str
    time_sync_enabled: bool | None
    time_sync_status: str | None
    saved_state_files: tuple[str, ...]
    host_utc: datetime
    saved_state: tuple[SavedFile, ...] = ()
    # The configuration a move must keep (harness/audit/fingerprint.py), by property.
    config: dict[str, Any] = field(default_factory=dict, compare=False)
    # Get-VM's State read again after the files were listed (None: not re-read, or gone).
    state_after_files: str | None = None
    # listed / absent / denied (None: an older document that did not say).
    saved_state_listing: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> VmDetails:
        vm = doc["vm"]
        time_sync = time_sync_service(vm["integration_services"])
        return cls(
            node=doc["node"],
            name=vm["name"],
            id=vm["id"],
            state=vm["state"],
            config_version=vm["config_version"],
            memory_bytes=int(vm["memory_startup_bytes"]),
            path=vm["path"],
            paths={
                "path": vm["path"],
                "configuration_location": vm["configuration_location"],
                "snapshot_file_location": vm["snapshot_file_location"],
                "smart_paging_file_path": vm["smart_paging_file_path"],
            },
            disk_paths=tuple(d["path"] for d in vm["hard_disks"]),
            passthrough=any(d["passthrough"] for d in vm["hard_disks"]),
            macs=tuple(a["mac_address"].upper() for a in vm["network_adapters"]),
            uptime_s=float(vm["uptime_seconds"]),
            heartbeat=vm["heartbeat"],
            time_sync_enabled=None if time_sync is None else bool(time_sync["enabled"]),
            time_sync_status=None if time_sync is None else service_status(time_sync),
            saved_state_files=tuple(f["path"] for f in vm["saved_state_files"]),
            host_utc=parse_utc(doc["host_utc"]),
            saved_state=tuple(
                SavedFile(
                    f["path"],
                    int(f["bytes"]),
                    parse_utc(f["last_write_utc"]) if f.get("last_write_utc") else None,
                )
                for f in vm["saved_state_files"]
            ),
            config=_config(vm),
            state_after_files=vm.get("state_after_files"),
            saved_state_listing=vm.get("saved_state_listing"),
        )


def _config(vm: dict[str, Any]) -> dict[str, Any]:
    """Every configuration value of a vm_details document that a move must not change."""
    out: dict[str, Any] = {
        "config_version": vm["config_version"],
        "memory_startup_bytes": vm["memory_startup_bytes"],
        # Disk paths and MAC addresses are the files and guest identity invariants' own.
        "hard_disks": [[d["disk_number"], d["passthrough"]] for d in vm["hard_disks"]],
        "network_adapters": [
            [a["name"], a.get("switch_name"), a.get("connected")] for a in vm["network_adapters"]
        ],
        "integration_services": sorted(
            [s["name"], bool(s["enabled"])] for s in vm["integration_services"]
        ),
    }
    for key, value in (vm.get("config") or {}).items():
        if key == "checkpoints":
            value = sorted([c["id"], c["name"], c["parent"]] for c in value)
        out[key] = value
    return out


@dataclass(frozen=True)
class Registration:
    """What one node shows of the VM's registration.

    Registered means Get-VM on the node lists the VM (every version), or, for version 5.0, that
    the node still holds the VM's symbolic link. Version 6.2+ keeps a per-VM entry in the node's
    'Virtual Machines Cache' (recorded, not judged: no public source says when Windows removes
    it); the host-wide data.vmcx says nothing about one VM and is not part of the judgement.
    """

    node: str
    program_data: str
    links_folder: str
    links: tuple[tuple[str, str | None, str | None], ...]
    vm_known: bool
    cache_folder: str = ""
    cache_entries: tuple[str, ...] = ()
    config_version: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Registration:
        return cls(
            node=doc["node"],
            program_data=doc["program_data"],
            links_folder=doc["links_folder"],
            links=tuple((e["name"], e["link_type"], e["target"]) for e in doc["entries"]),
            vm_known=bool(doc["vm_known"]),
            cache_folder=doc["cache_folder"],
            cache_entries=tuple(e["name"] for e in doc["cache_entries"]),
            config_version=doc["config_version"],
        )

    @property
    def registered(self) -> bool:
        return self.vm_known or bool(self.links)


@dataclass(frozen=True)
class ClusterEvent:
    """One event read from a node's log; role and VmId are read where the vocabulary puts them."""

    node: str
    provider: str
    id: int
    time: datetime
    properties: tuple[str, ...]
    log: str = ""

    @property
    def role(self) -> str | None:
        index = events.spec(self.id).role_property if self.id in events.SPECS else 0
        if index is None or index >= len(self.properties):
            return None
        return self.properties[index]

    @property
    def vm_id(self) -> str | None:
        """The VmId the event names (lower case, no braces), for events that carry one."""
        index = events.spec(self.id).vm_id_property if self.id in events.SPECS else None
        if index is None or index >= len(self.properties):
            return None
        return self.properties[index].strip("{}").lower()

    def is_about(self, vm_name: str, vm_id: str | None = None) -> bool:
        """By VmId where the event carries one, else by the role's name."""
        if vm_id is not None and self.vm_id is not None:
            return self.vm_id == vm_id.strip("{}").lower()
        return self.role == vm_name

    @property
    def move(self) -> events.RoleMove:
        """Event 1641 read in either of its forms."""
        return events.role_move(self.properties, f" on {self.node}")


@dataclass(frozen=True)
class GuestClock:
    """Guest and host UTC at (nearly) the same instant; lag > 0 means the guest is behind."""

    node: str
    host_utc: datetime
    guest_utc: datetime
    guest_last_boot: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> GuestClock:
        before = parse_utc(doc["host_utc_before"])
        after = parse_utc(doc["host_utc_after"])
        return cls(
            node=doc["node"],
            host_utc=before + (after - before) / 2,
            guest_utc=parse_utc(doc["guest_utc"]),
            guest_last_boot=parse_utc(doc["guest_last_boot_utc"]),
        )

    @property
    def lag_s(self) -> float:
        return (self.host_utc - self.guest_utc).total_seconds()
