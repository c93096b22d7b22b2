"""Decide whether a path lies on storage the cluster shares: ask the cluster, not a prefix.

A path is shared only when the cluster says so: under a CSV from the cluster's list, under a
Cluster Disk of the VM's own group, or under an SMB 3 share known for the VM (the share its own
files are configured on, or one the target's inventory declares). Where a node was asked about
such a share (`with_availability`, from the path_info probe's Get-SmbConnection view), a share
whose connections are not continuously available is not shared ("SMB not CA": it does not
survive the failover of its file server, which is what saved state on shared storage is for),
and one the node could not tell about (no connection) is "unresolved" (BROKEN, never a
violation). Every other UNC path is local:
an administrative share (`\\\\node\\C$`) or any share served by a cluster node is that node's
disk. Paths compare after normalisation: case, `/`, repeated and trailing separators, the
`\\\\?\\` and `\\\\?\\UNC\\` prefixes. A component in 8.3 short form (`CLUSTE~1`) cannot be
expanded here: when it could stand for a shared root's component the path is "unresolved".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

StorageKind = Literal["CSV", "Cluster Disk", "SMB 3", "SMB not CA", "local", "unresolved"]

_SHORT = re.compile(r"^([^~.]{1,6})~\d+(\.[^.]{0,3})?$")


def normalise(path: str) -> str:
    """One spelling per place: `\\\\?\\` and `\\\\?\\UNC\\` dropped, `/` -> `\\`, case-folded,
    repeated and trailing separators removed (a UNC path keeps its leading `\\\\`)."""
    p = path.replace("/", "\\")
    if p[:8].casefold() == "\\\\?\\unc\\":
        p = "\\\\" + p[8:]
    elif p.startswith("\\\\?\\"):
        p = p[4:]
    unc = p.startswith("\\\\") and not p.startswith("\\\\.\\")
    parts = [x for x in p.split("\\") if x]
    return ("\\\\" if unc else "") + "\\".join(parts).casefold()


def _parts(path: str) -> list[str]:
    """Path components after normalisation (a UNC path's server and share come first)."""
    return [p for p in normalise(path).split("\\") if p]


def is_under(path: str, root: str) -> bool:
    """True when `path` equals `root` or lies inside it, compared component by component.

    `C:\\ClusterStorage\\Volume1-old\\x` is *not* under `C:\\ClusterStorage\\Volume1`.
    """
    root_parts = _parts(root)
    if not root_parts or is_unc(path) != is_unc(root):
        return False
    return _parts(path)[: len(root_parts)] == root_parts


def is_unc(path: str) -> bool:
    """True for a UNC path `\\\\server\\share\\...` (also as `\\\\?\\UNC\\...`; not `\\\\.\\`)."""
    normal = normalise(path)
    return normal.startswith("\\\\") and len(_parts(normal)) >= 2


def share_root(path: str) -> str | None:
    """`\\\\server\\share` of a UNC path (normalised), else None."""
    if not is_unc(path):
        return None
    server, share = _parts(path)[:2]
    return f"\\\\{server}\\{share}"


def _short_alias(component: str) -> str:
    """The 6-character stem Windows would give a long name's 8.3 alias (`ClusterStorage` ->
    `CLUSTE`), case-folded; only used to decide whether a short form *could* match."""
    stem = component.split(".", 1)[0] if "." in component[1:] else component
    return re.sub(r"[\s.+,;=\[\]]", "", stem).casefold()[:6]


def _could_be_under(path: str, root: str) -> bool:
    """Whether `path` may lie under `root` once its short-form components are expanded."""
    path_parts, root_parts = _parts(path), _parts(root)
    if not root_parts or len(path_parts) < len(root_parts):
        return False
    for have, want in zip(path_parts, root_parts, strict=False):
        short = _SHORT.match(have)
        if have == want:
            continue
        if short and _short_alias(want) == short.group(1).casefold():
            continue
        return False
    return True


def has_short_form(path: str) -> bool:
    """True when a component looks like an 8.3 short name (`PROGRA~1`, `VOLUME~2.OLD`)."""
    return any(_SHORT.match(p) for p in _parts(path))


@dataclass(frozen=True)
class SharedStorage:
    """What the cluster reports as shared for one VM: CSVs, its group's disks, its SMB shares."""

    csv_roots: tuple[str, ...]
    group_disk_roots: tuple[str, ...]
    other_disk_roots: tuple[str, ...] = ()
    smb_roots: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    # (share root, continuously available) for the shares a node was asked about; None = the
    # node had no connection to tell. A share not listed was not asked: its declaration stands.
    smb_available: tuple[tuple[str, bool | None], ...] = ()

    def with_availability(self, available: Mapping[str, bool | None]) -> SharedStorage:
        """The same storage with what a node said about its SMB shares' continuous availability."""
        known = dict(self.smb_available)
        for root, value in available.items():
            share = share_root(root)
            if share is not None:
                known[share] = value
        return replace(self, smb_available=tuple(sorted(known.items())))

    @classmethod
    def from_inventory(
        cls,
        csvs: Iterable[str],
        disks: Iterable[tuple[str, str | None]],
        group: str | None,
        smb_roots: Iterable[str] = (),
        nodes: Iterable[str] = (),
    ) -> SharedStorage:
        """Build from CSV friendly volume names, (mount point, owner group) of Cluster Disks, the
        SMB 3 share roots known for the VM and the cluster's node names."""
        mine: list[str] = []
        others: list[str] = []
        for mount, owner_group in disks:
            (mine if group is not None and owner_group == group else others).append(mount)
        shares = tuple(r for r in (share_root(s) for s in smb_roots) if r is not None)
        return cls(tuple(csvs), tuple(mine), tuple(others), shares, tuple(nodes))

    def _node_served(self, root: str) -> bool:
        server = _parts(root)[0]
        # A node may be named in its short form or fully qualified (hv-a.corp.example).
        label = server.split(".", 1)[0]
        return any(label == n.casefold().split(".", 1)[0] for n in self.nodes)

    def classify(self, path: str) -> StorageKind:
        """The kind of storage `path` lies on, as far as the cluster is concerned."""
        root = share_root(path)
        if root is not None:
            share = _parts(root)[1]
            if share.endswith("$") or self._node_served(root):
                return "local"
            if not any(is_under(path, r) for r in self.smb_roots):
                return "local"
            said = dict(self.smb_available)
            if root not in said or said[root] is True:
                return "SMB 3"
            return "SMB not CA" if said[root] is False else "unresolved"
        if any(is_under(path, r) for r in self.csv_roots):
            return "CSV"
        if any(is_under(path, r) for r in self.group_disk_roots):
            return "Cluster Disk"
        if has_short_form(path) and any(
            _could_be_under(path, r) for r in self.csv_roots + self.group_disk_roots
        ):
            return "unresolved"
        return "local"

    def is_shared(self, path: str) -> bool:
        """True when the path is on a CSV, on a Cluster Disk of the VM's group, or on SMB 3."""
        return self.classify(path) in ("CSV", "Cluster Disk", "SMB 3")


@dataclass(frozen=True)
class Throughput:
    """Declared throughput of a storage root, MB/s (10^6 bytes per second)."""

    root: str
    read_mb_s: float
    write_mb_s: float

    def save_s(self, memory_bytes: float) -> float:
        """Seconds to write `memory_bytes` of saved state at the declared write throughput."""
        return memory_bytes / (self.write_mb_s * 1e6)

    def restore_s(self, memory_bytes: float) -> float:
        """Seconds to read it back at the declared read throughput."""
        return memory_bytes / (self.read_mb_s * 1e6)


GIB = 2**30


def throughput_for(table: Iterable[Throughput], path: str) -> Throughput | None:
    """The declared throughput of the storage holding `path`: the entry with the longest root
    that contains it (None when no entry does). The one lookup of every throughput table."""
    best: Throughput | None = None
    for candidate in table:
        if is_under(path, candidate.root) and (
            best is None or len(candidate.root) > len(best.root)
        ):
            best = candidate
    return best


def expected_downtime_s(
    memory_bytes: float, throughput: Throughput | None, per_gib_bound_s: float
) -> float:
    """The one downtime estimate of a quick migration: save + restore of the VM's memory at its
    storage's declared throughput, else the per-GiB downtime bound (an upper estimate)."""
    if throughput is None:
        return float(memory_bytes / GIB * per_gib_bound_s)
    return throughput.save_s(memory_bytes) + throughput.restore_s(memory_bytes)
