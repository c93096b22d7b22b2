"""Shared storage for a VM's saved state; an SMB 3 share counts only if continuously available."""

from __future__ import annotations

from typing import Any

from harness.audit.assertions import check, too_thin
from harness.audit.cluster import Cluster
from harness.audit.moves import MoveOutcome
from harness.domain.storage import SharedStorage, is_under


def own_paths(o: MoveOutcome) -> list[str]:
    """The VM's own configured paths (its path first), as seen before the move."""
    d = o.before.details
    return [o.vm.path, *(p for p in (d.paths.values() if d else ()) if p)]


def shared_storage(o: MoveOutcome) -> SharedStorage:
    """The cluster's shared storage for this VM: its SMB 3 share is the one its files are on."""
    return o.before.inventory.shared_storage(o.vm.group, own_paths(o))


def availability(
    cluster: Cluster, o: MoveOutcome, shared: SharedStorage, evidence: Any
) -> dict[str, bool | None]:
    """Per SMB 3 root of `shared`, whether the nodes that ran the VM say it is continuously
    available (the VM's own path on that share, what a capture holds; the share's root else)."""
    own = own_paths(o)
    said: dict[str, bool | None] = {}
    for root in shared.smb_roots:
        path = next((p for p in own if is_under(p, root)), root)
        said[root] = continuously_available(
            cluster, path, sorted({o.source, o.final_owner}), evidence
        )
    return said


def continuously_available(
    cluster: Cluster, path: str, nodes: list[str], evidence: Any
) -> bool | None:
    """What the nodes that ran the VM say of its share: any connection not continuously
    available decides False, else any that is decides True; None when none had a connection."""
    seen: list[bool] = []
    for node in nodes:
        smb = cluster.path_info(path, node)["smb"]
        evidence.observe("after", f"SMB connection for {path} on {node}", smb)
        if smb is not None and smb["continuously_available"] is not None:
            seen.append(bool(smb["continuously_available"]))
    if not seen:
        return None
    return all(seen)


def judge_files(files: list[str], shared: SharedStorage, evidence: Any) -> None:
    """Every saved-state file lies on storage the cluster shares for the VM (QM-02)."""
    __tracebackhide__ = True
    kinds = {f: shared.classify(f) for f in files}
    evidence.observe("after", "saved-state storage", kinds)
    unresolved = [f for f, k in kinds.items() if k == "unresolved"]
    check(
        bool(kinds) and not {"local", "SMB not CA"} & set(kinds.values()),
        "saved state must be on a CSV, a Cluster Disk of the VM's group, or a continuously "
        "available SMB 3 share known for the VM",
        files=kinds,
        csvs=list(shared.csv_roots),
        group_disks=list(shared.group_disk_roots),
        smb_shares=list(shared.smb_roots),
        smb_continuously_available=dict(shared.smb_available),
    )
    if unresolved:
        too_thin(
            "saved-state paths in 8.3 short form, or on an SMB share whose continuous "
            "availability the source could not report (no connection), cannot be judged",
            files=unresolved,
            smb_continuously_available=dict(shared.smb_available),
        )
