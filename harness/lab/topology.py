"""Lab topology: YAML file -> JSON Schema -> consistency checks -> frozen dataclasses."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from harness.domain.storage import Throughput
from harness.errors import InputError
from harness.lab import paths
from harness.lab.consistency import check_consistency
from harness.lab.cost import WindowsCost
from harness.lab.plausibility import check_plausible
from harness.lab.session import DEFAULT_SESSION, LabSession
from harness.redact import note_document
from harness.yamlfile import read_yaml_file

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "topology.schema.json"
DEFAULT_TOPOLOGY = Path(__file__).resolve().parent / "topologies" / "default.yaml"
_NAMESPACE = uuid.UUID("5b1f0c1e-9d7a-4c7e-8a59-0e6f3c2a9b10")


@dataclass(frozen=True)
class Cluster:
    """The cluster object: name, MoveTypeThreshold of the Virtual Machine type, network speed."""

    name: str
    move_type_threshold: int = 2000
    network_mb_s: float = 1250.0
    start_utc: datetime | None = None


@dataclass(frozen=True)
class Disk:
    """A node-local disk (volume root) with its throughput."""

    path: str
    read_mb_s: float
    write_mb_s: float


@dataclass(frozen=True)
class Node:
    """A cluster member."""

    name: str
    state: str = "Up"
    program_data: str = "C:\\ProgramData"
    local_disks: tuple[Disk, ...] = ()


@dataclass(frozen=True)
class NonMember:
    """A Hyper-V host that is not a member of the cluster."""

    name: str
    program_data: str = "C:\\ProgramData"


@dataclass(frozen=True)
class Csv:
    """A Cluster Shared Volume: reachable from every Up node under C:\\ClusterStorage."""

    name: str
    path: str
    read_mb_s: float
    write_mb_s: float
    # File-system redirected I/O (ReFS CSVs always; NTFS ones when something forces it): every
    # node but the coordinator reads and writes through it over the cluster networks.
    redirected: bool = False


@dataclass(frozen=True)
class ClusterDisk:
    """A Physical Disk resource mounted on its owner node only."""

    name: str
    mount: str
    owner: str
    possible_owners: tuple[str, ...]
    read_mb_s: float
    write_mb_s: float


@dataclass(frozen=True)
class SmbShare:
    """An SMB 3 share reachable from every node; continuously available unless declared not."""

    path: str
    read_mb_s: float
    write_mb_s: float
    continuously_available: bool = True


@dataclass(frozen=True)
class VM:
    """A clustered virtual machine as declared (the model keeps its changing state separately)."""

    name: str
    vm_id: str
    memory_mib: int
    config_version: str
    state: str
    owner: str
    storage: str
    priority: int
    preferred_owners: tuple[str, ...]
    possible_owners: tuple[str, ...]
    time_sync_enabled: bool
    time_sync_functional: bool
    passthrough_disk: bool
    mac_addresses: tuple[str, ...]
    guest_boot_time: datetime | None
    clock_offset_s: float
    vm_resource_id: str
    config_resource_id: str

    @property
    def folder(self) -> str:
        """The VM's folder: <storage>\\<name>."""
        return paths.join(self.storage, self.name)


@dataclass(frozen=True)
class RuleOff:
    """One rules_off entry: a rule switched off for the cluster, a node or a VM."""

    rule: str
    vm: str | None = None
    node: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Topology:
    """A whole lab topology, consistent by construction."""

    source: str
    cluster: Cluster
    nodes: tuple[Node, ...]
    non_members: tuple[NonMember, ...]
    csvs: tuple[Csv, ...]
    cluster_disks: tuple[ClusterDisk, ...]
    smb_shares: tuple[SmbShare, ...]
    vms: tuple[VM, ...]
    rules_off: tuple[RuleOff, ...]
    # Who a remote session is and how it runs (logon, locale, language mode): lab/session.py.
    session: LabSession = DEFAULT_SESSION
    # What probes cost on Windows in real time (harness/lab/cost.py); None: the instant lab.
    windows_cost: WindowsCost | None = None

    def node(self, name: str) -> Node | None:
        """The member node of that name (case-insensitive), or None."""
        return next((n for n in self.nodes if n.name.lower() == name.lower()), None)


def derived_guid(*parts: str) -> str:
    """A stable GUID (uuid5) from the given name parts, lower case without braces."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def derived_mac(vm_id: str, index: int) -> str:
    """A stable Hyper-V style MAC (00155D prefix) for adapter `index` of a VM."""
    tail = uuid.uuid5(_NAMESPACE, f"mac\x1f{vm_id}\x1f{index}").hex[:6].upper()
    return "00155D" + tail


def json_path(parts: Any) -> str:
    """A JSONPath-like string ($.vms[2].owner) from a sequence of keys and indexes."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def parse_topology(data: Any, source: str) -> Topology:
    """Validate an already-parsed document and build the Topology (InputError on any problem)."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise InputError(source, "$", f"the top level must be a mapping, found {kind}")
    note_document(source, data)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        raise InputError(source, json_path(err.absolute_path), err.message)
    from harness.lab.build import build_topology

    topology = build_topology(data, source)
    check_consistency(topology)
    check_plausible(topology)
    return topology


def load_topology(path: str | Path) -> Topology:
    """Read, validate and build a topology file."""
    # One strict YAML reader for every user file (duplicate keys rejected, Off stays a string).
    return parse_topology(read_yaml_file(path), str(path))


def load_default_topology() -> Topology:
    """The topology shipped with the package."""
    return load_topology(DEFAULT_TOPOLOGY)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 timestamp as tz-aware UTC (naive = UTC); ValueError if malformed."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def lab_throughputs(topology: Topology) -> tuple[Throughput, ...]:
    """The declared throughput of every storage root of a lab topology."""
    out = [Throughput(c.path, c.read_mb_s, c.write_mb_s) for c in topology.csvs]
    out += [Throughput(d.mount, d.read_mb_s, d.write_mb_s) for d in topology.cluster_disks]
    out += [Throughput(s.path, s.read_mb_s, s.write_mb_s) for s in topology.smb_shares]
    return tuple(out)
