"""Turns a schema-valid topology document into Topology dataclasses, deriving the defaults."""

from __future__ import annotations

from typing import Any

from harness.errors import InputError
from harness.lab.cost import parse_cost
from harness.lab.session import DEFAULT_SESSION, LabSession
from harness.lab.topology import (
    VM,
    Cluster,
    ClusterDisk,
    Csv,
    Disk,
    Node,
    NonMember,
    RuleOff,
    SmbShare,
    Topology,
    derived_guid,
    derived_mac,
    parse_utc,
)


def _guid(value: str | None) -> str | None:
    return value.strip("{}").lower() if value else None


def _mac(value: str) -> str:
    return value.replace("-", "").replace(":", "").upper()


def _time(value: str | None, source: str, where: str) -> Any:
    if value is None:
        return None
    try:
        parsed = parse_utc(value)
    except (ValueError, OverflowError):
        raise InputError(source, where, f"not an ISO 8601 timestamp: {value!r}") from None
    # The lab adds days of uptime and subtracts boot times: keep far from datetime's limits.
    if not 1900 <= parsed.year <= 9000:
        raise InputError(source, where, "timestamp out of range (years 1900 to 9000)")
    return parsed


def _disk(d: dict[str, Any]) -> Disk:
    return Disk(d["path"], float(d["read_mb_s"]), float(d["write_mb_s"]))


def _vm(v: dict[str, Any], cluster: str, source: str, index: int) -> VM:
    name = v["name"]
    vm_id = _guid(v.get("vm_id")) or derived_guid(cluster, "vm", name)
    resources = v.get("resources") or {}
    version = v.get("config_version", "9.0")
    macs = tuple(_mac(m) for m in v.get("mac_addresses") or ()) or (derived_mac(vm_id, 0),)
    sync = v.get("time_sync") or {}
    return VM(
        name=name,
        vm_id=vm_id,
        memory_mib=int(v["memory_mib"]),
        config_version=f"{float(version):.1f}",
        state=v.get("state", "Running"),
        owner=v["owner"],
        storage=v["storage"],
        priority=int(v.get("priority", 2000)),
        preferred_owners=tuple(v.get("preferred_owners") or ()),
        possible_owners=tuple(v.get("possible_owners") or ()),
        time_sync_enabled=bool(sync.get("enabled", True)),
        time_sync_functional=bool(sync.get("functional", True)),
        passthrough_disk=bool(v.get("passthrough_disk", False)),
        mac_addresses=macs,
        guest_boot_time=_time(v.get("guest_boot_time"), source, f"$.vms[{index}].guest_boot_time"),
        clock_offset_s=float(v.get("clock_offset_s", 0.0)),
        vm_resource_id=_guid(resources.get("vm")) or derived_guid(cluster, "res-vm", vm_id),
        config_resource_id=_guid(resources.get("config"))
        or derived_guid(cluster, "res-config", vm_id),
    )


def build_topology(data: dict[str, Any], source: str) -> Topology:
    """Build the dataclasses (no cross-reference checks here: see consistency.py)."""
    c = data["cluster"]
    cluster = Cluster(
        name=c["name"],
        move_type_threshold=int(c.get("move_type_threshold", 2000)),
        network_mb_s=float(c.get("network_mb_s", 1250.0)),
        start_utc=_time(c.get("start_utc"), source, "$.cluster.start_utc"),
    )
    nodes = tuple(
        Node(
            name=n["name"],
            state=n.get("state", "Up"),
            program_data=n.get("program_data", "C:\\ProgramData"),
            local_disks=tuple(_disk(d) for d in n.get("local_disks") or ()),
        )
        for n in data["nodes"]
    )
    non_members = tuple(
        NonMember(m["name"], m.get("program_data", "C:\\ProgramData"))
        for m in data.get("non_members") or ()
    )
    storage = data.get("storage") or {}
    csvs = tuple(
        Csv(
            s["name"],
            s["path"],
            float(s["read_mb_s"]),
            float(s["write_mb_s"]),
            bool(s.get("redirected", False)),
        )
        for s in storage.get("csvs") or ()
    )
    disks = tuple(
        ClusterDisk(
            name=s["name"],
            mount=s["mount"],
            owner=s["owner"],
            possible_owners=tuple(s.get("possible_owners") or (n.name for n in nodes)),
            read_mb_s=float(s["read_mb_s"]),
            write_mb_s=float(s["write_mb_s"]),
        )
        for s in storage.get("cluster_disks") or ()
    )
    shares = tuple(
        SmbShare(
            s["path"],
            float(s["read_mb_s"]),
            float(s["write_mb_s"]),
            bool(s.get("continuously_available", True)),
        )
        for s in storage.get("smb_shares") or ()
    )
    vms = tuple(_vm(v, cluster.name, source, i) for i, v in enumerate(data["vms"]))
    rules_off = tuple(
        RuleOff(r["rule"], r.get("vm"), r.get("node"), dict(r.get("params") or {}))
        for r in data.get("rules_off") or ()
    )
    given = data.get("session") or {}
    session = LabSession(
        logon=str(given.get("logon", DEFAULT_SESSION.logon)),
        locale=str(data.get("locale", DEFAULT_SESSION.locale)),
        language_mode=str(given.get("language_mode", DEFAULT_SESSION.language_mode)),
        event_extra_properties=int(data.get("event_extra_properties", 0)),
    )
    cost = parse_cost(data.get("windows_cost"), source) if "windows_cost" in data else None
    return Topology(
        source,
        cluster,
        nodes,
        non_members,
        csvs,
        disks,
        shares,
        vms,
        rules_off,
        windows_cost=cost,
        session=session,
    )
