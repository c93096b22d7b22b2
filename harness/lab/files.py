"""What exists in the lab's file systems and which host reaches it (the path_info probe, QM-12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.lab import paths
from harness.lab.storage import StorageRef

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.session import LabSession
    from harness.lab.state import NodeState


def path_info(
    c: LabCluster, host: NodeState, path: str, session: LabSession | None = None
) -> dict[str, Any]:
    """exists / is_directory / resolved_path of `path` as `host` reaches it, and for a UNC path
    what the node's SMB connection to its share says (Get-SmbConnection).

    A session without network credentials (the second hop) is refused every UNC path: the
    share answers access denied whether or not the path exists.
    """
    session = session or c.topology.session
    missing = {"exists": False, "is_directory": False, "resolved_path": None}
    if paths.is_unc(path) and not session.network_credentials:
        return {**missing, "access_denied": True, "smb": smb_connection(c, host, path)}
    ref = c.storage_of(path, host.name)
    if paths.under(path, host.program_data):
        ref = StorageRef("local", host.program_data, host.program_data, 1, 1, host.name)
    kind = None
    if ref is not None and _reaches(c, host, ref, path):
        kind = _known(c, host).get(paths.norm(path))
    smb = smb_connection(c, host, path)
    if kind is None:
        return {**missing, "access_denied": False, "smb": smb}
    return {
        "exists": True,
        "is_directory": kind == "dir",
        "resolved_path": path,
        "access_denied": False,
        "smb": smb,
    }


def smb_connection(c: LabCluster, host: NodeState, path: str) -> dict[str, Any] | None:
    """`{server, share, connections, continuously_available}` of a UNC path, None for others.

    A node that reaches the share (its root: a missing folder inside a reachable share still
    leaves the connection Test-Path opened) holds one connection to it. Its
    ContinuouslyAvailable is the topology's word for a declared share (false on a node whose
    rule smb_share_continuously_available is off), false for any other share (a node's own C$
    is never continuously available). Without a connection the node cannot tell (null).
    """
    parts = [p for p in path.replace("/", "\\").split("\\") if p]
    if not path.startswith("\\\\") or len(parts) < 2 or parts[0] in (".", "?"):
        return None
    server, share = parts[0], parts[1]
    root = f"\\\\{server}\\{share}"
    ref = c.storage_of(root, host.name)
    reached = ref is not None and _reaches(c, host, ref, root)
    if not reached or paths.norm(root) not in _known(c, host):
        return {"server": server, "share": share, "connections": 0, "continuously_available": None}
    declared = next((s for s in c.topology.smb_shares if paths.same(s.path, root)), None)
    available = declared is not None and declared.continuously_available
    if not c.rule_on("smb_share_continuously_available", nodes=(host.name,)):
        available = False
    return {"server": server, "share": share, "connections": 1, "continuously_available": available}


def _reaches(c: LabCluster, host: NodeState, ref: StorageRef, path: str) -> bool:
    if ref.kind == "csv" and not host.member:
        return False
    if ref.kind == "cluster_disk" and c.disk_owner[ref.name] != host.name:
        return False
    if ref.shared:
        vm = next((v for v in c.vms.values() if paths.under(path, v.folder)), None)
        if not c.rule_on("storage_reachable_by_target", vm, (host.name,)):
            return False
    return True


def _known(c: LabCluster, host: NodeState) -> dict[str, str]:
    """Every path that exists in the lab (as norm -> 'dir' | 'file'), parents included."""
    found: dict[str, str] = {}

    def add(p: str, kind: str) -> None:
        found[paths.norm(p)] = kind
        parent = p.rstrip("\\").rsplit("\\", 1)[0]
        while parent and len(parent) >= 2 and paths.norm(parent) not in found:
            found[paths.norm(parent)] = "dir"
            if parent.startswith("\\\\") and parent.count("\\") <= 3:
                break
            parent = parent.rsplit("\\", 1)[0] if "\\" in parent else ""

    t = c.topology
    for root in [x.path for x in t.csvs] + [d.mount for d in t.cluster_disks]:
        add(root, "dir")
    for share in t.smb_shares:
        add(share.path, "dir")
    for n in c.nodes.values():
        for r in n.extra_local:
            add(r.root, "dir")
    spec = t.node(host.name)
    for disk in spec.local_disks if spec is not None else ():
        add(disk.path, "dir")
    add(paths.join(host.program_data, "Microsoft\\Windows\\Hyper-V\\Virtual Machines"), "dir")
    for entry in host.links.values():
        add(paths.join(entry.folder, entry.name), "file")
    for v in c.vms.values():
        ext = "xml" if v.spec.config_version == "5.0" else "vmcx"
        add(paths.join(v.folder, "Virtual Machines", f"{v.vm_id.upper()}.{ext}"), "file")
        add(paths.join(v.folder, "Virtual Hard Disks", f"{v.name}.vhdx"), "file")
        for p, _ in v.saved.files if v.saved is not None else ():
            add(p, "file")
    return found
