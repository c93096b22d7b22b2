"""Who owns a moved VM's storage: its group's Cluster Disks follow it, the CSVs stay (QM-05)."""

from __future__ import annotations

from harness.audit.assertions import check
from harness.audit.moves import MoveOutcome


def judge_disks_follow(o: MoveOutcome) -> None:
    """The Physical Disk resources of the VM's group are owned by its new owner."""
    __tracebackhide__ = True
    assert o.after is not None
    disks = o.after.inventory.disks_of_group(o.vm.group)
    owners = {d.name: d.owner_node for d in disks}
    check(bool(disks), "the VM's group must hold a Physical Disk resource", group=o.vm.group)
    check(
        all(owner == o.final_owner for owner in owners.values()),
        "the Physical Disk resources of the VM's group must move to the target",
        target=o.final_owner,
        disk_owners=owners,
    )


def judge_csvs_stay(o: MoveOutcome) -> None:
    """No Cluster Shared Volume changed owner because of the move."""
    __tracebackhide__ = True
    assert o.after is not None
    before = {c["name"]: c["owner_node"] for c in o.before.inventory.csvs}
    after = {c["name"]: c["owner_node"] for c in o.after.inventory.csvs}
    check(
        before == after,
        "CSV ownership is not transferred by a quick migration",
        before=before,
        after=after,
    )
