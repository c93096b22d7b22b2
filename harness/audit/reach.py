"""Whether a target node reaches a VM's storage and may own the VM and its storage (QM-12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.audit.assertions import check, too_thin
from harness.audit.catalog import VmFacts
from harness.audit.cluster import Cluster
from harness.audit.objects import Inventory


def judge_reaches(
    cluster: Cluster, inventory: Callable[[], Inventory], vm: VmFacts, node: str, evidence: Any
) -> None:
    """`node` reaches the VM's storage (a Cluster Disk: may take it). `inventory` reads the
    cluster now; it is read only for a Cluster Disk."""
    __tracebackhide__ = True
    info = cluster.path_info(vm.path, node)
    evidence.observe("before", f"path_info on {node}", info)
    if vm.storage == "Cluster Disk":
        # Reached after the disk changes owner ("not necessarily simultaneously"): the target
        # must be a possible owner of the disk, checked by the next step.
        disks = inventory().disks_of_group(vm.group)
        check(
            bool(disks) and all(node in d.possible_owners for d in disks),
            "the target must be able to take the VM's Cluster Disk",
            node=node,
            disks={d.name: list(d.possible_owners) for d in disks},
        )
        return
    if info.get("access_denied"):
        # The share refused this session, not the node: Hyper-V reaches it as the computer
        # account, the audit's session has no network credentials (the second hop).
        too_thin(
            f"{node} refused this session {vm.path} (no network credentials for a second hop), "
            "so whether the node reaches it cannot be looked at; fix: CredSSP for the target, "
            "resource-based Kerberos constrained delegation to the file server, or an audit "
            "account with rights on the share",
            node=node,
            path=vm.path,
        )
    check(bool(info["exists"]), "the target must reach the VM's storage", node=node, path=vm.path)


def judge_owner(inventory: Inventory, vm: VmFacts, node: str) -> None:
    """`node` is a possible owner of the VM, of its group's disks, and its CSVs are Online."""
    __tracebackhide__ = True
    group = inventory.group_of(vm.name)
    disks = {d.name: list(d.possible_owners) for d in inventory.disks_of_group(vm.group)}
    csvs = {c["name"]: c["state"] for c in inventory.csvs}
    ok = (not group.possible_owners or node in group.possible_owners) and all(
        node in owners for owners in disks.values()
    )
    if vm.storage == "CSV":
        ok = ok and all(state == "Online" for state in csvs.values())
    check(
        ok,
        "the target must be a possible owner of the VM and its storage",
        node=node,
        vm_possible_owners=list(group.possible_owners),
        disks=disks,
        csvs=csvs,
    )
