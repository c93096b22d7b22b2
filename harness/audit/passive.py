"""Static invariants: what a read-only session judges of every VM in scope, without any move.

The snapshot reads the cluster as found (inventory, each VM on its owner, its resources and its
registration on every Up node, whether each possible owner reaches its storage) and every judge
returns a `Judgement`. Which claims a passive check may PASS is one table (`PROVES`): only claims
about the cluster's standing configuration; for the others a consistent cluster is NOT JUDGED
(only a move can prove them), and a contradiction is FAILED only when one probe document carries
both facts, or two are bracketed by the inventory reading the same owner before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.audit.cluster import Cluster
from harness.audit.objects import Inventory, Registration, VmDetails, VmGroup
from harness.domain.storage import SharedStorage, is_under, share_root
from harness.errors import HarnessError

# Claims a passive check can prove: statements about how the cluster stands, not about a move.
PROVES: frozenset[str] = frozenset({"QM-12", "QM-22"})
HYPER_V = "Microsoft\\Windows\\Hyper-V"
LINKS = HYPER_V + "\\Virtual Machines"


@dataclass(frozen=True)
class Judgement:
    """One claim judged passively: verdict, why, the contradictions and the figures."""

    claim: str
    verdict: str  # "passed", "failed" or "not judged"
    reason: str
    contradictions: tuple[dict[str, Any], ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)


def settle(
    claim: str,
    contradictions: Sequence[dict[str, Any]],
    unclear: Sequence[Any],
    checked: int,
    what: str,
    figures: dict[str, Any],
) -> Judgement:
    """The verdict of one check over every VM: contradictions fail it; a claim in PROVES passes
    when every VM could be checked; anything else is not judged, with the figures."""
    figures = {**figures, "vms_checked": checked, "not_checkable": list(unclear)}
    if contradictions:
        return Judgement(
            claim,
            "failed",
            f"{len(contradictions)} VM(s) break: {what}",
            tuple(contradictions),
            figures,
        )
    if checked == 0:
        return Judgement(
            claim, "not judged", f"no VM in scope could be checked: {what}", (), figures
        )
    if claim not in PROVES:
        return Judgement(
            claim,
            "not judged",
            f"consistent for {checked} VM(s) ({what}); only a move can prove the claim",
            (),
            figures,
        )
    if unclear:
        return Judgement(
            claim,
            "not judged",
            f"{len(unclear)} check(s) could not be made from a read-only session: {what}",
            (),
            figures,
        )
    return Judgement(claim, "passed", f"holds for {checked} VM(s): {what}", (), figures)


@dataclass
class VmView:
    """One VM in scope as a read-only session sees it."""

    group: VmGroup
    details: VmDetails | None
    resources: dict[str, list[dict[str, Any]]]
    registrations: dict[str, Registration]
    reach: dict[str, dict[str, dict[str, Any]]]  # node -> path -> path_info
    shared: SharedStorage
    owner_steady: bool  # the inventory read the same owner and state before and after


@dataclass
class Snapshot:
    """The cluster as found: inventory (read before and after) and every VM in scope."""

    inventory: Inventory
    vms: list[VmView]
    down: list[str]

    def figures(self) -> dict[str, Any]:
        return {"vms": [v.group.vm_name for v in self.vms], "nodes_down": self.down}


def read_snapshot(cluster: Cluster, allowed: Callable[[str], bool]) -> Snapshot:
    """Read every VM the target allows; probes only (nothing is changed)."""
    inventory = cluster.inventory()
    up = [n.name for n in inventory.nodes if n.state != "Down"]
    down = [n.name for n in inventory.nodes if n.state == "Down"]
    views: list[VmView] = []
    for group in inventory.groups:
        if not allowed(group.vm_name):
            continue
        details = (
            cluster.vm_details(group.vm_id, group.owner_node) if group.owner_node in up else None
        )
        resources = cluster.resources(group.vm_id, up)
        registrations = cluster.registrations(group.vm_id, up)
        folders = storage_folders(details)
        owners = [n for n in (group.possible_owners or tuple(up)) if n in up]
        reach = {node: {p: cluster.path_info(p, node) for p in folders} for node in owners}
        shared = inventory.shared_storage(group.name, [details.path] if details else [])
        available = {
            p: info["smb"]["continuously_available"]
            for infos in reach.values()
            for p, info in infos.items()
            if info.get("smb") is not None
        }
        views.append(
            VmView(
                group,
                details,
                resources,
                registrations,
                reach,
                shared.with_availability(available),
                True,
            )
        )
    after = cluster.inventory()
    for view in views:
        again = next((g for g in after.groups if g.vm_id == view.group.vm_id), None)
        view.owner_steady = (
            again is not None
            and again.owner_node == view.group.owner_node
            and again.state == view.group.state
        )
    return Snapshot(inventory, views, down)


def storage_folders(details: VmDetails | None) -> list[str]:
    """The folders a possible owner must reach: the VM's, its configuration's, smart paging's."""
    if details is None:
        return []
    found = [
        details.path,
        *(details.paths.get(k) for k in ("configuration_location", "smart_paging_file_path")),
    ]
    return sorted({p for p in found if p}, key=str.casefold)


def state_paths(details: VmDetails | None) -> dict[str, str]:
    """The VM's configuration, saved-state and smart-paging paths (the saved state lives under
    <ConfigurationLocation>\\Virtual Machines, docs/windows-fidelity.md)."""
    if details is None:
        return {}
    out: dict[str, str] = {}
    config = details.paths.get("configuration_location") or details.path
    if config:
        out["configuration"] = config
    for i, f in enumerate(details.saved_state_files):
        out[f"saved state {i + 1}"] = f
    paging = details.paths.get("smart_paging_file_path")
    if paging:
        out["smart paging"] = paging
    return out


# ----- the judges ---------------------------------------------------------------------------
def judge_offline_action(snap: Snapshot) -> Judgement:
    """QM-01: the Virtual Machine resource saves the VM when it is taken offline (OfflineAction
    1 = Save). DefaultMoveType is not read: no public source documents it (docs/passive.md)."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    seen: dict[str, Any] = {}
    for v in snap.vms:
        values: dict[str, Any] = {}
        for node, res in v.resources.items():
            for r in res:
                if r["resource_type"] == "Virtual Machine":
                    values[node] = {"offline_action": r.get("offline_action")}
        seen[v.group.vm_name] = values
        actions = {x["offline_action"] for x in values.values()}
        if not values or actions == {None}:
            unclear.append(v.group.vm_name)
            continue
        checked += 1
        wrong = {
            n: x["offline_action"]
            for n, x in values.items()
            if x["offline_action"] not in (None, 1)
        }
        if wrong:
            bad.append(
                {
                    "vm": v.group.vm_name,
                    "offline_action": wrong,
                    "expected": "1 (Save): the VM is saved, not turned off or shut down",
                }
            )
    return settle(
        "QM-01",
        bad,
        unclear,
        checked,
        "the VM resource's OfflineAction is 1 (Save)",
        {"resources": seen},
    )


def judge_state_paths(snap: Snapshot) -> Judgement:
    """QM-02: configuration, saved-state and smart-paging paths lie on storage the cluster
    shares (a CSV, a Cluster Disk of the VM's group, a continuously available SMB 3 share)."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    seen: dict[str, Any] = {}
    for v in snap.vms:
        paths = state_paths(v.details)
        if not paths:
            unclear.append(v.group.vm_name)
            continue
        kinds = {label: {"path": p, "storage": v.shared.classify(p)} for label, p in paths.items()}
        seen[v.group.vm_name] = kinds
        checked += 1
        local = {k: x for k, x in kinds.items() if x["storage"] in ("local", "SMB not CA")}
        if local:
            bad.append(
                {
                    "vm": v.group.vm_name,
                    "not_shared": local,
                    "csvs": list(v.shared.csv_roots),
                    "group_disks": list(v.shared.group_disk_roots),
                    "smb_shares": list(v.shared.smb_roots),
                }
            )
        elif any(x["storage"] == "unresolved" for x in kinds.values()):
            unclear.append(v.group.vm_name)
    return settle(
        "QM-02",
        bad,
        unclear,
        checked,
        "configuration, saved-state and smart-paging paths on shared storage",
        {"paths": seen},
    )


def judge_owners_reach(snap: Snapshot) -> Judgement:
    """QM-12: every possible owner of the VM is Up and reaches its storage (a Cluster Disk:
    may own it). A UNC path a node does not reach is not judged: a remote session without
    network credentials (second hop) cannot tell."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    seen: dict[str, Any] = {}
    nodes = {n.name: n.state for n in snap.inventory.nodes}
    for v in snap.vms:
        if v.details is None:
            unclear.append(v.group.vm_name)
            continue
        owners = list(v.group.possible_owners or nodes)
        disks = snap.inventory.disks_of_group(v.group.name)
        problems: list[dict[str, Any]] = []
        cannot: list[str] = []
        for node in owners:
            state = nodes.get(node)
            if state in (None, "Down"):
                cannot.append(f"{node} is {state or 'not a member'}")
                continue
            for d in disks:
                if node not in d.possible_owners:
                    problems.append(
                        {
                            "node": node,
                            "cluster_disk": d.name,
                            "disk_possible_owners": list(d.possible_owners),
                        }
                    )
            for path, info in v.reach.get(node, {}).items():
                if v.shared.classify(path) == "local":
                    continue  # a node-local path is QM-02's finding, not a reachability one
                on_disk = any(is_under(path, m) for d in disks for m in d.mount_points)
                if info["exists"] or on_disk:
                    continue  # a Cluster Disk is reached once the node owns it
                if info.get("access_denied"):
                    cannot.append(f"{node} was refused {path} (session without rights there)")
                elif share_root(path) is not None:
                    cannot.append(f"{node} does not reach {path} (second hop?)")
                else:
                    problems.append({"node": node, "path": path, "exists": False})
        seen[v.group.vm_name] = {"possible_owners": owners, "cannot_tell": cannot}
        checked += 1
        if problems:
            bad.append({"vm": v.group.vm_name, "problems": problems})
        elif cannot:
            unclear.append({v.group.vm_name: cannot})
    return settle(
        "QM-12",
        bad,
        unclear,
        checked,
        "every possible owner is Up and reaches the VM's storage",
        {"owners": seen},
    )


def judge_registration(snap: Snapshot) -> Judgement:
    """QM-03: exactly one registration cluster-wide, on the VM's owner (bracketed: the inventory
    read the same owner and state before and after the registrations were read)."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    seen: dict[str, Any] = {}
    for v in snap.vms:
        where = sorted(n for n, r in v.registrations.items() if r.registered)
        seen[v.group.vm_name] = {"owner": v.group.owner_node, "registered_on": where}
        if not v.owner_steady or snap.down or v.group.owner_node not in v.registrations:
            unclear.append(v.group.vm_name)
            continue
        checked += 1
        if where != [v.group.owner_node]:
            bad.append({"vm": v.group.vm_name, "owner": v.group.owner_node, "registered_on": where})
    return settle(
        "QM-03",
        bad,
        unclear,
        checked,
        "registered on exactly one node, its owner",
        {"registrations": seen},
    )


def judge_link_roots(snap: Snapshot) -> Judgement:
    """QM-22: each node's registration folders are under its own %ProgramData%, and a 5.0 VM
    a node knows has its link there (one vm_registration document carries both)."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    seen: dict[str, Any] = {}
    for v in snap.vms:
        if not v.registrations:
            unclear.append(v.group.vm_name)
            continue
        checked += 1
        for node, r in v.registrations.items():
            own = r.program_data.rstrip("\\") + "\\" + LINKS
            seen.setdefault(node, {"program_data": r.program_data, "links_folder": r.links_folder})
            if not is_under(r.links_folder, r.program_data) or (
                r.links_folder.casefold() != own.casefold()
            ):
                bad.append(
                    {
                        "vm": v.group.vm_name,
                        "node": node,
                        "program_data": r.program_data,
                        "links_folder": r.links_folder,
                    }
                )
            elif r.vm_known and r.config_version == "5.0" and not r.links:
                bad.append(
                    {
                        "vm": v.group.vm_name,
                        "node": node,
                        "config_version": "5.0",
                        "vm_known": True,
                        "links_in": r.links_folder,
                        "links": [],
                    }
                )
    return settle(
        "QM-22",
        bad,
        unclear,
        checked,
        "registration links under each node's own %ProgramData%",
        {"nodes": seen},
    )


def judge_registry_view(snap: Snapshot) -> Judgement:
    """QM-13: every node's HKLM\\Cluster\\Resources view matches the cluster resource it read
    in the same document (name, type, VmID)."""
    bad: list[dict[str, Any]] = []
    unclear: list[Any] = []
    checked = 0
    for v in snap.vms:
        if not v.resources:
            unclear.append(v.group.vm_name)
            continue
        checked += 1
        for node, res in v.resources.items():
            for r in res:
                reg = r["registry"]
                if not reg["present"]:
                    bad.append(
                        {
                            "vm": v.group.vm_name,
                            "node": node,
                            "resource": r["id"],
                            "registry": "absent",
                        }
                    )
                    continue
                theirs = (reg["name"], reg["type"])
                if theirs != (r["name"], r["resource_type"]) or (
                    r["resource_type"] == "Virtual Machine" and reg["vm_id"] != r["vm_id"]
                ):
                    bad.append(
                        {
                            "vm": v.group.vm_name,
                            "node": node,
                            "resource": r["id"],
                            "cluster": [r["name"], r["resource_type"], r["vm_id"]],
                            "registry": [reg["name"], reg["type"], reg["vm_id"]],
                        }
                    )
    return settle(
        "QM-13",
        bad,
        unclear,
        checked,
        "the registry view of the VM's resources matches the cluster on every node",
        {},
    )


def judge_time_sync(snap: Snapshot) -> Judgement:
    """QM-15: integration services with time sync, recorded (the drift itself needs a move)."""
    seen: dict[str, Any] = {}
    for v in snap.vms:
        if v.details is not None:
            seen[v.group.vm_name] = {
                "time_sync_enabled": v.details.time_sync_enabled,
                "time_sync_status": v.details.time_sync_status,
                "heartbeat": v.details.heartbeat,
            }
    odd = [n for n, s in seen.items() if s["time_sync_enabled"] and s["time_sync_status"] != "OK"]
    return settle(
        "QM-15",
        [],
        [],
        len(seen),
        "time synchronization as configured",
        {"integration_services": seen, "enabled_not_ok": odd},
    )


def judge_priorities(snap: Snapshot) -> Judgement:
    """QM-18: which VMs a drain would quick-migrate (priority below MoveTypeThreshold)."""
    threshold = snap.inventory.move_type_threshold
    quick = sorted(v.group.vm_name for v in snap.vms if v.group.priority < threshold)
    live = sorted(v.group.vm_name for v in snap.vms if v.group.priority >= threshold)
    figures = {
        "move_type_threshold": threshold,
        "drain_quick_migrates": quick,
        "drain_live_migrates": live,
        "priorities": {v.group.vm_name: v.group.priority for v in snap.vms},
    }
    return settle("QM-18", [], [], len(snap.vms), "priorities against MoveTypeThreshold", figures)


def judge_owners(snap: Snapshot) -> Judgement:
    """QM-16: preferred and possible owners; whether the cluster has another Up node to pick."""
    up = set(snap.inventory.up_nodes())
    seen: dict[str, Any] = {}
    notes: list[str] = []
    for v in snap.vms:
        possible = list(v.group.possible_owners) or sorted(up)
        others = [n for n in possible if n in up and n != v.group.owner_node]
        stray = [
            n
            for n in v.group.preferred_owners
            if v.group.possible_owners and n not in v.group.possible_owners
        ]
        seen[v.group.vm_name] = {
            "preferred": list(v.group.preferred_owners),
            "possible": possible,
            "up_targets": others,
        }
        if not others:
            notes.append(f"{v.group.vm_name}: no Up possible owner other than its owner")
        if stray:
            notes.append(f"{v.group.vm_name}: preferred owners not possible owners: {stray}")
    return settle(
        "QM-16",
        [],
        [],
        len(seen),
        "preferred and possible owners",
        {"owners": seen, "notes": notes},
    )


JUDGES: dict[str, Callable[[Snapshot], Judgement]] = {
    "offline action": judge_offline_action,
    "state paths": judge_state_paths,
    "owners reach storage": judge_owners_reach,
    "single registration": judge_registration,
    "link roots": judge_link_roots,
    "registry view": judge_registry_view,
    "time sync": judge_time_sync,
    "priorities": judge_priorities,
    "owners": judge_owners,
}


def judge(name: str, snap: Snapshot) -> Judgement:
    """Run one named static check (HarnessError for a name the audit does not know)."""
    if name not in JUDGES:
        raise HarnessError(f"unknown static check {name!r} (known: {', '.join(JUDGES)})")
    return JUDGES[name](snap)


def claims_of(judgements: Iterable[Judgement]) -> dict[str, str]:
    """Per claim, the verdict of its judgements (failed over passed over not judged)."""
    rank = {"failed": 2, "passed": 1, "not judged": 0}
    out: dict[str, str] = {}
    for j in judgements:
        if j.claim not in out or rank[j.verdict] > rank[out[j.claim]]:
            out[j.claim] = j.verdict
    return out
