"""Decide whether a path lies on storage the cluster shares: ask the cluster, not a prefix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

StorageKind = Literal["CSV", "Cluster Disk", "SMB 3", "local"]


def _parts(path: str) -> list[str]:
    """Path components, case-folded, separators normalised, empty parts dropped."""
    return [p for p in path.replace("/", "\\").casefold().split("\\") if p]


def is_under(path: str, root: str) -> bool:
    """True when `path` equals `root` or lies inside it, compared component by component.

    `C:\\ClusterStorage\\Volume1-old\\x` is *not* under `C:\\ClusterStorage\\Volume1`.
    """
    root_parts = _parts(root)
    if not root_parts:
        return False
    return _parts(path)[: len(root_parts)] == root_parts


def is_unc(path: str) -> bool:
    """True for a UNC path `\\\\server\\share\\...` (not a `\\\\?\\` or `\\\\.\\` device path)."""
    normal = path.replace("/", "\\")
    if not normal.startswith("\\\\") or normal.startswith(("\\\\?\\", "\\\\.\\")):
        return False
    return len(_parts(normal)) >= 2


@dataclass(frozen=True)
class SharedStorage:
    """What the cluster reports as shared: CSV mount points and the Cluster Disks of a group."""

    csv_roots: tuple[str, ...]
    group_disk_roots: tuple[str, ...]
    other_disk_roots: tuple[str, ...] = ()

    @classmethod
    def from_inventory(
        cls,
        csvs: Iterable[str],
        disks: Iterable[tuple[str, str | None]],
        group: str | None,
    ) -> SharedStorage:
        """Build from CSV friendly volume names and (mount point, owner group) of Cluster Disks."""
        mine: list[str] = []
        others: list[str] = []
        for mount, owner_group in disks:
            (mine if group is not None and owner_group == group else others).append(mount)
        return cls(tuple(csvs), tuple(mine), tuple(others))

    def classify(self, path: str) -> StorageKind:
        """The kind of storage `path` lies on, as far as the cluster is concerned."""
        if is_unc(path):
            return "SMB 3"
        if any(is_under(path, root) for root in self.csv_roots):
            return "CSV"
        if any(is_under(path, root) for root in self.group_disk_roots):
            return "Cluster Disk"
        return "local"

    def is_shared(self, path: str) -> bool:
        """True when the path is on a CSV, on a Cluster Disk of the VM's group, or on SMB 3."""
        return self.classify(path) != "local"
