"""The lab's changing state: nodes, VMs, disks, events and the ground truth of every move."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.lab.storage import StorageRef
from harness.lab.topology import VM


def iso(t: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z suffix (docs/contracts.md, Time)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    """One event-log entry on one node, in the log (channel) Windows writes it to."""

    node: str
    log: str
    provider: str
    id: int
    time: datetime
    message: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class LinkEntry:
    """A file in a node's links folder (config version 5.0 registration)."""

    folder: str
    name: str
    link_type: str
    target: str


@dataclass
class NodeState:
    """A node's changing state (members and non-members)."""

    name: str
    member: bool
    state: str
    program_data: str
    drain_status: str = "NotInitiated"
    sent_bytes: int = 0
    received_bytes: int = 0
    registered: set[str] = field(default_factory=set)
    links: dict[str, LinkEntry] = field(default_factory=dict)
    # Version 6.2+ registrations: per-VM entries in '<ProgramData>\...\Virtual Machines Cache'
    # (<VMId>.vmcx and a <VMId> folder), by VMId: (folder, ((name, bytes or None), ...)).
    cache: dict[str, tuple[str, tuple[tuple[str, int | None], ...]]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    extra_local: list[StorageRef] = field(default_factory=list)


@dataclass
class SavedState:
    """Saved-state files of a VM: the memory file grows at the write rate until complete."""

    files: list[tuple[str, int]]  # (path, final size); the first one holds the memory image
    started: datetime
    write_bps: float
    complete: bool = False
    completed_at: datetime | None = None
    # Version 5.0 keeps its .bin at the memory size all along; only 8.0+'s .vmrs grows.
    grows: bool = True

    def finish(self, at: datetime) -> None:
        """The save is written: sizes final, write times that of the last write."""
        self.complete, self.completed_at = True, at

    def sizes(self, now: datetime) -> list[tuple[str, int]]:
        """File sizes as seen at `now`."""
        if self.complete or not self.grows:
            return list(self.files)
        written = int(max(0.0, (now - self.started).total_seconds()) * self.write_bps)
        first, *rest = self.files
        return [(first[0], min(first[1], written)), *rest]

    def listing(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """(path, Length, LastWriteTimeUtc) at `now`: every file is written while saving."""
        written = (self.completed_at or self.started) if self.complete else now
        return [(path, size, written) for path, size in self.sizes(now)]


@dataclass
class MoveRecord:
    """Ground truth of one move or failover, for comparing the harness's measurement."""

    vm: str
    kind: str  # quick | live | registration | failover | noop
    source: str
    target: str
    started: datetime
    saved_at: datetime | None = None
    transferred_at: datetime | None = None
    completed_at: datetime | None = None
    network_bytes: int = 0
    saved_state_paths: tuple[str, ...] = ()
    state_before: str = ""
    state_after: str | None = None

    @property
    def downtime_s(self) -> float | None:
        """t2 - t0 for a quick migration of a running VM (0 for live moves), None until done."""
        if self.completed_at is None:
            return None
        if self.kind in ("live", "noop"):
            return 0.0
        return (self.completed_at - self.started).total_seconds()


@dataclass
class VMState:
    """A VM's changing state; `spec` keeps what the topology declared."""

    spec: VM
    state: str
    owner: str
    folder: str
    vm_resource_id: str
    config_resource_id: str
    macs: tuple[str, ...]
    guest_boot: datetime  # in guest-clock terms
    clock_offset_s: float  # guest clock - host clock, while not frozen
    time_sync_enabled: bool
    group_state: str = "Online"
    resource_state: str = "Online"
    config_state: str = "Online"
    heartbeat_ok: bool = True
    frozen_guest: datetime | None = None
    saved: SavedState | None = None
    # When the resident state files (.vmrs/.vmgs, or .bin/.vsv for 5.0) were last written.
    state_files_written: datetime | None = None
    kvp_host: str = ""
    kvp_fqdn_host: str = ""
    moving_to: str | None = None
    history: list[MoveRecord] = field(default_factory=list)
    # The whole-VM fingerprint's values (harness/lab/vmconfig.py): Get-VM's configuration and
    # the Virtual Machine resource's private properties; a move must keep them.
    config: dict[str, Any] = field(default_factory=dict)
    resource_private: dict[str, str | None] = field(default_factory=dict)
    # A defect's late failback is under way (rule state_holds_after_move off).
    failing_back: bool = False

    @property
    def name(self) -> str:
        """The VM's name."""
        return self.spec.name

    @property
    def vm_id(self) -> str:
        """The VMId (lower case, no braces)."""
        return self.spec.vm_id

    @property
    def memory_bytes(self) -> int:
        """Assigned memory in bytes."""
        return self.spec.memory_mib * 1024 * 1024

    def guest_now(self, now: datetime) -> datetime:
        """The guest's clock at host time `now`."""
        if self.frozen_guest is not None:
            return self.frozen_guest
        return now + timedelta(seconds=self.clock_offset_s)
