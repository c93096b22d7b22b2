"""The lab's rules: one id per documented behaviour, each switchable off by a topology."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A behaviour of the modelled cluster, with the claim it backs."""

    id: str
    claim: str
    summary: str
    scope: tuple[str, ...]  # where it may be switched off: "cluster", "node", "vm"


RULES: tuple[Rule, ...] = (
    Rule(
        "save_before_move",
        "QM-01",
        "a running VM passes through Saving/Saved before the owner changes",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "saved_state_on_vm_storage",
        "QM-02",
        "saved-state files are written beside the VM on its (shared) storage",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "registration_copied_to_target",
        "QM-03",
        "the registration (Get-VM; link for 5.0, cache entry for 6.2+) is created on the target",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "registration_removed_from_source",
        "QM-03",
        "the registration is removed from the source",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "later_moves_clean_up",
        "QM-03",
        "a VM's second and later moves remove the source's registration like the first",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "link_points_at_config",
        "QM-03",
        "a 5.0 link points at the VM's real .xml",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "files_stay",
        "QM-04",
        "configuration, disk and state paths do not change",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "disk_ownership_follows",
        "QM-05",
        "a Cluster Disk holding the VM moves to the target",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "state_restored",
        "QM-06",
        "the VM ends in the state it started in (Running resumes)",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "restore_from_saved_state",
        "QM-06",
        "a running VM is restored from its saved state, not rebooted",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "any_state_movable",
        "QM-07",
        "Off, Saved and Paused VMs can be quick-migrated",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "off_vm_instant",
        "QM-08",
        "an Off or Saved VM moves in well under a second",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "metadata_only_network",
        "QM-09",
        "a quick migration sends only metadata between nodes",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "storage_speed_as_declared",
        "QM-09",
        "save and restore run at the declared storage throughput",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "unavailable_while_moving",
        "QM-10",
        "the guest heartbeat is lost for the whole save/restore window",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "refuse_non_member",
        "QM-11",
        "a move to a host outside the cluster fails with 5042 and changes nothing",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "storage_reachable_by_target",
        "QM-12",
        "the VM's storage is reachable from every possible owner",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "resource_identity_stable",
        "QM-13",
        "resource GUIDs, names and types survive a move",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "registry_view_consistent",
        "QM-13",
        "every node reads the same HKLM\\Cluster\\Resources values",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "guest_identity_stable",
        "QM-14",
        "VMId and MAC addresses survive a move",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "kvp_host_updated",
        "QM-14",
        "KVP PhysicalHostName shows the new host a few seconds after resume",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "kvp_fqdn_updated",
        "QM-14",
        "KVP PhysicalHostNameFullyQualified follows the new host with the short name",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "guest_clock_frozen_while_saved",
        "QM-15",
        "the guest clock stops while the VM is saved",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "time_sync_corrects",
        "QM-15",
        "working time sync corrects the guest clock within ~30 s",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "best_possible_node",
        "QM-16",
        "with no target the cluster picks an Up possible owner that is not the source",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "multi_vm_request",
        "QM-17",
        "every VM of a multi-VM request is moved",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "drain_priority_split",
        "QM-18",
        "drain quick-migrates VMs below MoveTypeThreshold, live-migrates the rest",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "drain_evacuates", "QM-18", "a drained node ends Paused with no roles", ("cluster", "node")
    ),
    Rule(
        "crash_cold_start",
        "QM-19",
        "after a host crash its VMs boot cold elsewhere",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "wait_zero_returns_pending",
        "QM-20",
        "-Wait 0 returns at once with the group Pending",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "passthrough_quick_migrates",
        "QM-21",
        "a VM with a pass-through disk quick-migrates",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "links_under_program_data",
        "QM-22",
        "links live under the node's own %ProgramData%",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "configuration_kept",
        "QM-14",
        "a move keeps the VM's configuration (memory, CPUs, adapters, checkpoints, start/stop)",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "resource_values_kept",
        "QM-13",
        "a move keeps every private and common value of the VM's resources and group",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "move_touches_only_its_role",
        "QM-17",
        "a move changes no other group",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "move_keeps_storage_owners",
        "QM-05",
        "a move changes no CSV owner (nor any disk outside the VM's group)",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "state_holds_after_move",
        "QM-06",
        "once a move settled, the VM stays as it is (state, heartbeat)",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "owner_holds_after_move",
        "QM-07",
        "once a move settled, the role stays on the node the move left it on",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "move_request_saves",
        "QM-01",
        "every way of requesting a quick migration saves a running VM (Move-ClusterGroup too)",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "failover_to_up_owner",
        "QM-19",
        "a crashed node's roles fail over to Up nodes that are possible owners",
        ("cluster", "node", "vm"),
    ),
    Rule(
        "smb_share_continuously_available",
        "QM-02",
        "a node's SMB connection to a share declared continuously available reports it so",
        ("cluster", "node"),
    ),
    # Standing configuration and past moves: what a passive audit reads (docs/passive.md).
    Rule(
        "offline_action_save",
        "QM-01",
        "the Virtual Machine resource's OfflineAction is 1 (Save)",
        ("cluster", "vm"),
    ),
    Rule(
        "state_paths_on_vm_storage",
        "QM-02",
        "the VM's smart-paging path is beside it on its (shared) storage",
        ("cluster", "vm"),
    ),
    Rule(
        "single_registration",
        "QM-03",
        "a VM is registered on exactly one node (its owner) when the lab starts",
        ("cluster", "vm"),
    ),
    Rule(
        "history_offline_before_online",
        "QM-01",
        "in the lab's event history, every past quick migration went offline on the source "
        "before the target brought it online",
        ("cluster", "vm"),
    ),
)

# What the lab does instead when a topology switches a rule off (rules_off), by rule id.
BROKEN: dict[str, str] = {
    "save_before_move": ("the owner changes first; Saving/Saved happen on the target"),
    "saved_state_on_vm_storage": (
        "state files go to <source system drive>ClusterStorage\\Volume1-old\\<vm> "
        "(node-local, only looks shared) or params.path"
    ),
    "registration_copied_to_target": (
        "the target never learns the VM (no link, Get-VM -Id fails there)"
    ),
    "registration_removed_from_source": (
        "the source keeps its registration: two nodes know the VM"
    ),
    "link_points_at_config": (
        "the link points at <system drive>VMs-old\\<vm>\\<VMId>.xml (or params.target)"
    ),
    "files_stay": ("the VM's folder becomes <storage>\\<vm>-<target> after the move"),
    "disk_ownership_follows": ("the Cluster Disk stays with the source node"),
    "state_restored": ("a Running/Paused/Saved VM ends Off"),
    "restore_from_saved_state": ("the VM boots cold on the target (Starting, boot time reset)"),
    "any_state_movable": ("moving an Off/Saved/Paused VM is refused with 5023"),
    "off_vm_instant": ("an Off/Saved move takes memory/write + memory/read seconds"),
    "metadata_only_network": ("the VM's memory is also counted on the network counters"),
    "storage_speed_as_declared": ("save and restore run params.factor (default 10) times slower"),
    "unavailable_while_moving": ("the heartbeat stays OK during the save/restore window"),
    "refuse_non_member": ("the VM is saved on the source before the 5042 refusal and stays Saved"),
    "storage_reachable_by_target": (
        "path_info from the node (or for the VM's folder) says the path does not exist"
    ),
    "resource_identity_stable": ("both resources get new GUIDs after each move"),
    "registry_view_consistent": (
        "the node's HKLM\\Cluster\\Resources view of the VM shows a stale VmID"
    ),
    "guest_identity_stable": ("the MAC addresses change after a move"),
    "kvp_host_updated": ("PhysicalHostName keeps naming the source"),
    "kvp_fqdn_updated": (
        "PhysicalHostName follows, PhysicalHostNameFullyQualified keeps naming the first host"
    ),
    "later_moves_clean_up": (
        "from the VM's second move on, the source keeps its registration (two nodes know it)"
    ),
    "guest_clock_frozen_while_saved": ("the guest clock keeps running while saved (no lag)"),
    "time_sync_corrects": ("the lag stays even with time sync enabled and working"),
    "best_possible_node": ("with no target the cluster picks the source (a no-op move)"),
    "multi_vm_request": ("VMs after the first of a request are silently ignored"),
    "drain_priority_split": ("low-priority VMs are live-migrated too"),
    "drain_evacuates": ("Off/Saved VMs stay on the drained node, yet the drain reports Completed"),
    "crash_cold_start": ("failed-over VMs keep their uptime and clock (as if restored)"),
    "wait_zero_returns_pending": ("the move call blocks until the move is done (group Online)"),
    "passthrough_quick_migrates": ("moving a VM with a pass-through disk is refused with 5023"),
    "links_under_program_data": (
        "5.0 links are written under C:\\ProgramData whatever %ProgramData% is"
    ),
    "configuration_kept": (
        "after each move params.property (default processor_count) of the VM's configuration "
        "changes"
    ),
    "resource_values_kept": (
        "after each move the VM resource's private property params.property (default "
        "CheckHeartbeat) flips, in the cluster and in every node's registry"
    ),
    "move_touches_only_its_role": ("each move also moves the cluster core group to its target"),
    "move_keeps_storage_owners": ("each move also moves every CSV to its target"),
    "state_holds_after_move": (
        "params.delay_s (default 12) after a move completes the guest heartbeat is lost for good"
    ),
    "owner_holds_after_move": (
        "params.delay_s (default 12) after a move completes the role moves back to its source"
    ),
    "move_request_saves": (
        "a request by params.method (default 'cluster_group' = Move-ClusterGroup; 'any') "
        "live-migrates a running VM: no save, no offline"
    ),
    "failover_to_up_owner": (
        "a crashed node's roles fail over to a node that is not Up, else one that is not a "
        "possible owner"
    ),
    "smb_share_continuously_available": (
        "the node's SMB connections to every share report ContinuouslyAvailable false (the "
        "share is served without continuous availability; VMs and saved state stay on it)"
    ),
    "offline_action_save": (
        "the VM resource reports OfflineAction params.value (default 0, Turn Off)"
    ),
    "state_paths_on_vm_storage": (
        "SmartPagingFilePath is a node-local folder under the owner's %ProgramData% "
        "(or params.path)"
    ),
    "single_registration": (
        "another possible owner still knows the VM (Get-VM lists it there) from a past move"
    ),
    "history_offline_before_online": (
        "the seeded past moves of the VM show the target's 1200/1201 params.lead_s (default "
        "60) seconds before the source's 1204"
    ),
}

RULE_IDS: frozenset[str] = frozenset(rule.id for rule in RULES)


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError if unknown)."""
    for candidate in RULES:
        if candidate.id == rule_id:
            return candidate
    raise KeyError(rule_id)
