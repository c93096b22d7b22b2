"""Which declared storage a path lies on (most specific root wins), and its throughput."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.lab import paths

if TYPE_CHECKING:
    from harness.lab.topology import Topology

SHARED_KINDS = frozenset({"csv", "cluster_disk", "smb"})


@dataclass(frozen=True)
class StorageRef:
    """A storage location: kind (csv, cluster_disk, smb, local), its root and throughputs."""

    kind: str
    name: str
    root: str
    read_mb_s: float
    write_mb_s: float
    node: str | None = None  # the node of a local disk

    @property
    def shared(self) -> bool:
        """Whether the cluster treats this storage as shared."""
        return self.kind in SHARED_KINDS


def all_storage(topology: Topology) -> list[StorageRef]:
    """Every declared storage root, shared first."""
    refs = [StorageRef("csv", c.name, c.path, c.read_mb_s, c.write_mb_s) for c in topology.csvs]
    refs += [
        StorageRef("cluster_disk", d.name, d.mount, d.read_mb_s, d.write_mb_s)
        for d in topology.cluster_disks
    ]
    refs += [
        StorageRef("smb", s.path, s.path, s.read_mb_s, s.write_mb_s) for s in topology.smb_shares
    ]
    for node in topology.nodes:
        refs += [
            StorageRef("local", d.path, d.path, d.read_mb_s, d.write_mb_s, node.name)
            for d in node.local_disks
        ]
    return refs


def resolve(
    topology: Topology, path: str, node: str | None, extra: list[StorageRef] | None = None
) -> StorageRef | None:
    """The storage holding `path` as seen from `node` (local disks only of that node)."""
    best: StorageRef | None = None
    for ref in all_storage(topology) + list(extra or ()):
        if ref.kind == "local" and (node is None or (ref.node or "").lower() != node.lower()):
            continue
        if paths.under(path, ref.root) and (
            best is None or len(paths.norm(ref.root)) > len(paths.norm(best.root))
        ):
            best = ref
    return best
