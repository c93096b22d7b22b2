"""The lab VM's configuration and cluster values (the whole-VM fingerprint), and what a move does
to them and to the rest of the cluster when a rule is switched off.

Healthy: a move changes none of them, touches no other group, CSV or node, and the VM stays as
the move left it. The rules configuration_kept, resource_values_kept, move_touches_only_its_role,
move_keeps_storage_owners, state_holds_after_move and owner_holds_after_move switch that off
(harness/lab/rules.py, BROKEN).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import VMState

# Private properties Windows computes while a VM runs or moves: not stored under Parameters.
COMPUTED = ("MigrationFailureReason", "MigrationProgress", "MigrationState", "VmState")


def initial_config(vm: VMState) -> dict[str, Any]:
    """What Get-VM shows of the VM's configuration, derived from its topology entry."""
    mib = vm.spec.memory_mib
    return {
        "generation": 1 if vm.spec.config_version == "5.0" else 2,
        "processor_count": max(1, min(8, mib // 1024)),
        "memory_minimum_bytes": 512 * 1024 * 1024,
        "memory_maximum_bytes": 1024 * 1024 * 1024 * 1024,
        "dynamic_memory_enabled": False,
        "automatic_start_action": "Nothing",
        "automatic_start_delay_s": 0,
        "automatic_stop_action": "Save",
        "checkpoints": [],
    }


def initial_private(vm: VMState) -> dict[str, str | None]:
    """The Virtual Machine resource's private properties (Get-ClusterParameter), as text."""
    return {
        "CheckHeartbeat": "1",
        "DefaultMoveType": "4294967295",
        "MigrationFailureReason": "0",
        "MigrationProgress": "0",
        "MigrationState": "0",
        "OfflineAction": "1",
        "ShutdownAction": "0",
        "StartMemory": str(vm.spec.memory_mib),
        "VirtualNumaCount": "1",
        "VmID": vm.vm_id,
        "VmState": "2" if vm.state == "Running" else "3",
    }


def private_values(vm: VMState, resource_type: str) -> dict[str, str | None]:
    """Every private property of one of the VM's two resources, now."""
    if resource_type != "Virtual Machine":
        return {"VmID": vm.vm_id}
    values = dict(vm.resource_private)
    values["VmState"] = {"Running": "2", "Paused": "32768", "Saved": "32769"}.get(vm.state, "3")
    values["MigrationState"] = "0" if vm.moving_to is None else "1"
    return values


def registry_parameters(private: dict[str, str | None], vm_id: str | None) -> dict[str, Any]:
    """HKLM:\\Cluster\\Resources\\<id>\\Parameters: the stored private properties."""
    stored = {k: v for k, v in private.items() if k not in COMPUTED}
    stored["VmID"] = vm_id
    return stored


def common_values(c: LabCluster, vm: VMState) -> dict[str, str | None]:
    """The resource's common properties the fingerprint compares."""
    owners = list(vm.spec.possible_owners) or [n.name for n in c.members()]
    return {
        "restart_action": "2",
        "restart_threshold": "1",
        "restart_period": "900000",
        "pending_timeout": "180000",
        "retry_period_on_failure": "3600000",
        "possible_owners": ";".join(owners),
    }


def group_values(vm: VMState) -> dict[str, str | None]:
    """The VM's cluster group as Get-ClusterGroup shows it (the values the fingerprint compares)."""
    return {
        "name": vm.name,
        "priority": str(vm.spec.priority),
        "failover_threshold": "4294967295",
        "failover_period": "6",
        "auto_failback_type": "0",
        "failback_window": "4294967295-4294967295",
        "preferred_owners": ";".join(vm.spec.preferred_owners),
    }


def on_transfer(c: LabCluster, vm: VMState, source: str, target: str) -> None:
    """Ownership changed hands: what the rules that are off change besides."""
    nodes = (source, target)
    if not c.rule_on("configuration_kept", vm, nodes):
        key = str(c.rule_params("configuration_kept", vm, nodes).get("property", "processor_count"))
        value = vm.config.get(key)
        if isinstance(value, bool):
            vm.config[key] = not value
        elif isinstance(value, int):
            vm.config[key] = 1 if value > 1 else 2
        elif key == "checkpoints":
            vm.config[key] = []
        else:
            vm.config[key] = "StartIfRunning" if value != "StartIfRunning" else "Nothing"
    if not c.rule_on("resource_values_kept", vm, nodes):
        key = str(
            c.rule_params("resource_values_kept", vm, nodes).get("property", "CheckHeartbeat")
        )
        old = vm.resource_private.get(key)
        vm.resource_private[key] = "0" if old != "0" else "1"
    if not c.rule_on("move_touches_only_its_role", vm, nodes):
        c.core_owner = c.node(target).name
    if not c.rule_on("move_keeps_storage_owners", vm, nodes):
        c.csv_owner = c.node(target).name


def after_settled(c: LabCluster, vm: VMState, source: str, at: datetime) -> None:
    """The move is complete: rule state_holds_after_move off changes the VM a little later."""
    nodes = (source, vm.owner)
    if vm.failing_back:
        vm.failing_back = False
        return
    for rule_id, effect in (
        ("state_holds_after_move", "heartbeat"),
        ("owner_holds_after_move", "failback"),
    ):
        if not c.rule_on(rule_id, vm, nodes):
            delay = float(c.rule_params(rule_id, vm, nodes).get("delay_s", 12.0))
            _late(c, vm, source, at + timedelta(seconds=delay), effect)


def _late(c: LabCluster, vm: VMState, source: str, when: datetime, effect: str) -> None:
    """Schedule the late change of a VM that settled on its owner now."""
    owner = vm.owner

    def late(at: datetime) -> None:
        if vm.owner != owner or vm.moving_to is not None:
            return
        if effect == "failback":
            from harness.lab.moves import start_move

            back = c.node(source)
            if back.member and back.state == "Up":
                vm.failing_back = True
                start_move(c, vm, back.name, at)
        elif vm.state == "Running":
            vm.heartbeat_ok = False

    c.schedule(when, late)
