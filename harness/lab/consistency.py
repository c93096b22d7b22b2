"""Cross-reference checks of a topology that JSON Schema cannot express."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from harness.errors import InputError
from harness.lab import paths
from harness.lab.ruleparams import check_params
from harness.lab.rules import RULE_IDS, rule
from harness.lab.storage import resolve

if TYPE_CHECKING:
    from harness.lab.topology import Topology


def _unique(source: str, items: Iterable[tuple[str, str]], what: str) -> None:
    seen: dict[str, str] = {}
    for where, value in items:
        key = value.lower()
        if key in seen:
            raise InputError(source, where, f"duplicate {what} {value!r} (also at {seen[key]})")
        seen[key] = where


def check_consistency(t: Topology) -> None:
    """Raise InputError(file, json path, reason) for the first inconsistency found."""
    src = t.source
    members = {n.name.lower() for n in t.nodes}

    def member(where: str, name: str, role: str) -> None:
        if name.lower() not in members:
            extra = " (it is a non-member host)" if name.lower() in outsiders else ""
            raise InputError(src, where, f"{role} {name!r} is not a node of the cluster{extra}")

    outsiders = {m.name.lower() for m in t.non_members}
    _unique(
        src,
        [(f"$.nodes[{i}].name", n.name) for i, n in enumerate(t.nodes)]
        + [(f"$.non_members[{i}].name", m.name) for i, m in enumerate(t.non_members)],
        "host name",
    )
    _unique(src, [(f"$.vms[{i}].name", v.name) for i, v in enumerate(t.vms)], "VM name")
    _unique(src, [(f"$.vms[{i}].vm_id", v.vm_id) for i, v in enumerate(t.vms)], "VMId")
    guids = [(f"$.vms[{i}].resources.vm", v.vm_resource_id) for i, v in enumerate(t.vms)]
    guids += [(f"$.vms[{i}].resources.config", v.config_resource_id) for i, v in enumerate(t.vms)]
    _unique(src, guids, "resource GUID")
    macs = [
        (f"$.vms[{i}].mac_addresses[{j}]", m)
        for i, v in enumerate(t.vms)
        for j, m in enumerate(v.mac_addresses)
    ]
    _unique(src, macs, "MAC address")
    roots = [(f"$.storage.csvs[{i}].path", c.path) for i, c in enumerate(t.csvs)]
    roots += [
        (f"$.storage.cluster_disks[{i}].mount", d.mount) for i, d in enumerate(t.cluster_disks)
    ]
    roots += [(f"$.storage.smb_shares[{i}].path", s.path) for i, s in enumerate(t.smb_shares)]
    _unique(src, [(w, paths.norm(p)) for w, p in roots], "shared storage path")
    _unique(
        src,
        [(f"$.storage.csvs[{i}].name", c.name) for i, c in enumerate(t.csvs)]
        + [(f"$.storage.cluster_disks[{i}].name", d.name) for i, d in enumerate(t.cluster_disks)],
        "disk name",
    )
    for i, node in enumerate(t.nodes):
        _unique(
            src,
            [
                (f"$.nodes[{i}].local_disks[{j}].path", paths.norm(d.path))
                for j, d in enumerate(node.local_disks)
            ],
            "local disk path",
        )
        for j, disk in enumerate(node.local_disks):
            for where, root in roots:
                if paths.same(disk.path, root):
                    raise InputError(
                        src,
                        f"$.nodes[{i}].local_disks[{j}].path",
                        f"{disk.path!r} is declared both as a local disk and as shared storage "
                        f"({where})",
                    )
            _not_in_csv_namespace(src, f"$.nodes[{i}].local_disks[{j}].path", disk.path, t)
    for i, cdisk in enumerate(t.cluster_disks):
        member(f"$.storage.cluster_disks[{i}].owner", cdisk.owner, "disk owner")
        for j, name in enumerate(cdisk.possible_owners):
            member(f"$.storage.cluster_disks[{i}].possible_owners[{j}]", name, "possible owner")
        if cdisk.owner.lower() not in {p.lower() for p in cdisk.possible_owners}:
            raise InputError(
                src,
                f"$.storage.cluster_disks[{i}].owner",
                f"owner {cdisk.owner!r} is not among the disk's possible owners",
            )
    disk_users: dict[str, int] = {}
    for i, vm in enumerate(t.vms):
        at = f"$.vms[{i}]"
        member(f"{at}.owner", vm.owner, "owner")
        for key, names in (
            ("preferred_owners", vm.preferred_owners),
            ("possible_owners", vm.possible_owners),
        ):
            for j, name in enumerate(names):
                member(f"{at}.{key}[{j}]", name, key[:-1].replace("_", " "))
        if vm.possible_owners and vm.owner.lower() not in {p.lower() for p in vm.possible_owners}:
            raise InputError(
                src, f"{at}.owner", f"owner {vm.owner!r} is not among the VM's possible owners"
            )
        ref = resolve(t, vm.storage, vm.owner)
        if ref is None:
            raise InputError(
                src,
                f"{at}.storage",
                f"{vm.storage!r} is not declared storage (CSV, cluster disk, SMB share "
                f"or a local disk of {vm.owner})",
            )
        if ref.kind == "cluster_disk":
            if ref.name in disk_users:
                raise InputError(
                    src,
                    f"{at}.storage",
                    f"cluster disk {ref.name!r} already holds VM $.vms[{disk_users[ref.name]}]; "
                    "a Physical Disk resource belongs to one group",
                )
            disk_users[ref.name] = i
            held = next(d for d in t.cluster_disks if d.name == ref.name)
            if held.owner.lower() != vm.owner.lower():
                raise InputError(
                    src,
                    f"{at}.owner",
                    f"the VM's cluster disk {held.name!r} is owned by {held.owner!r}, "
                    f"not by {vm.owner!r}",
                )
        owner = t.node(vm.owner)
        if owner is not None and owner.state == "Down" and vm.state in ("Running", "Paused"):
            raise InputError(
                src, f"{at}.state", f"a {vm.state} VM cannot be owned by Down node {owner.name!r}"
            )
    vm_names = {v.name for v in t.vms}
    for i, entry in enumerate(t.rules_off):
        at = f"$.rules_off[{i}]"
        if entry.rule not in RULE_IDS:
            raise InputError(src, f"{at}.rule", f"unknown rule {entry.rule!r}")
        scope = rule(entry.rule).scope
        check_params(entry.rule, entry.params, src, at)
        if entry.vm is not None:
            if entry.vm not in vm_names:
                raise InputError(src, f"{at}.vm", f"unknown VM {entry.vm!r}")
            if "vm" not in scope:
                raise InputError(
                    src, f"{at}.vm", f"rule {entry.rule!r} cannot be switched off per VM"
                )
        if entry.node is not None:
            member(f"{at}.node", entry.node, "node")
            if "node" not in scope:
                raise InputError(
                    src, f"{at}.node", f"rule {entry.rule!r} cannot be switched off per node"
                )


def _not_in_csv_namespace(src: str, at: str, disk: str, t: Topology) -> None:
    """A local disk at, inside or above a CSV path would take over files on shared storage.

    CSVs appear on every node as folders under the system drive's ClusterStorage root, so the
    drive root itself (C:\\) holds them legitimately; any other local volume at, inside or above
    a CSV path would shadow the shared volume.
    """
    for k, csv in enumerate(t.csvs):
        if paths.under(disk, csv.path):
            how = "at" if paths.same(disk, csv.path) else "inside"
        elif paths.under(csv.path, disk) and paths.norm(disk) != paths.norm(paths.drive(disk)):
            how = "above"
        else:
            continue
        raise InputError(
            src,
            at,
            f"a node-local disk {how} the CSV path {csv.path!r} ($.storage.csvs[{k}].path)",
        )
