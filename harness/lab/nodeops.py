"""Node operations: drain (Suspend-ClusterNode -Drain), resume, and the lab-only crash/power-on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.domain.events import EventId
from harness.errors import LabOperationError
from harness.lab.moves import schedule_kvp, schedule_time_sync, start_move
from harness.lab.placement import best_possible_node, can_host, loads
from harness.lab.state import MoveRecord

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import NodeState, VMState

FAILOVER_DELAY_S = 5.0
COLD_BOOT_S = 10.0


def _member(c: LabCluster, name: str) -> NodeState:
    node = c.nodes.get(name.lower())
    if node is None or not node.member:
        raise LabOperationError(5042, "The cluster node was not found")
    return node


def _busy(c: LabCluster, node: NodeState) -> bool:
    return any(
        v.moving_to is not None and node.name in (v.owner, v.moving_to) for v in c.vms.values()
    )


def _target_doc(node: NodeState) -> dict[str, Any]:
    return {"name": node.name, "state": node.state, "drain_status": node.drain_status}


def drain(c: LabCluster, name: str) -> dict[str, Any]:
    """Pause the node and move every role off it: quick below MoveTypeThreshold, else live.

    Rule drain_priority_split off: VMs below the threshold are live-migrated too.
    Rule drain_evacuates off: VMs that are not running stay on the node, yet the drain
    reports Completed.
    """
    with c.session() as now:
        node = _member(c, name)
        if node.state == "Down":
            raise LabOperationError(5050, f"The cluster node '{node.name}' is down")
        if _busy(c, node):
            raise LabOperationError(5023, f"The cluster node '{node.name}' has a move in progress")
        node.state, node.drain_status = "Paused", "InProgress"
        threshold = c.topology.cluster.move_type_threshold
        load = loads(c)
        failed = False
        end = now
        owned = [v for v in c.vms.values() if v.owner == node.name]
        for vm in sorted(owned, key=lambda v: (-v.spec.priority, v.name.lower())):
            running = vm.state in ("Running", "Paused")
            if not running and not c.rule_on("drain_evacuates", nodes=(node.name,)):
                continue
            target = best_possible_node(c, vm, load)
            if target is None or target is node:
                failed = True
                continue
            live = running and vm.spec.priority >= threshold and not vm.spec.passthrough_disk
            if not c.rule_on("drain_priority_split", vm, (node.name, target.name)):
                live = running and not vm.spec.passthrough_disk
            end = max(end, start_move(c, vm, target.name, now, live=live))
            load[target.name] = load.get(target.name, 0) + 1

        def finish(at: datetime) -> None:
            if node.state == "Paused" and node.drain_status == "InProgress":
                node.drain_status = "Failed" if failed else "Completed"

        c.schedule(end + timedelta(seconds=0.1), finish)
        return {"target": _target_doc(node)}


def resume(c: LabCluster, name: str) -> dict[str, Any]:
    """Resume-ClusterNode: Up again, drain status reset, no failback."""
    with c.session():
        node = _member(c, name)
        if node.state == "Down":
            raise LabOperationError(5050, f"The cluster node '{node.name}' is down")
        node.state, node.drain_status = "Up", "NotInitiated"
        return {"target": _target_doc(node)}


def crash(c: LabCluster, name: str) -> None:
    """Power loss: the node is Down at once; after ~5 s its VMs fail over and boot cold.

    Rule crash_cold_start off: the VMs come back with their uptime and clock continuing,
    as if restored from a saved state that a crash cannot have produced.
    """
    with c.session() as now:
        node = _member(c, name)
        if node.state == "Down":
            raise LabOperationError(5050, f"The cluster node '{node.name}' is down")
        if _busy(c, node):
            raise LabOperationError(5023, f"The cluster node '{node.name}' has a move in progress")
        node.state, node.drain_status = "Down", "NotInitiated"
        for vm in [v for v in c.vms.values() if v.owner == node.name]:
            before = vm.state
            if before in ("Running", "Paused"):
                vm.state, vm.heartbeat_ok = "Off", False
                vm.resource_state = "Failed"
            vm.group_state, vm.moving_to = "Pending", node.name
            later = now + timedelta(seconds=FAILOVER_DELAY_S)
            c.schedule(later, _failover_at(c, vm, node, before, now))


def _failover_at(
    c: LabCluster, vm: VMState, dead: NodeState, before: str, crashed: datetime
) -> Callable[[datetime], None]:
    return lambda at: _failover(c, vm, dead, before, crashed, at)


def _failover(
    c: LabCluster, vm: VMState, dead: NodeState, before: str, crashed: datetime, at: datetime
) -> None:
    vm.moving_to = None
    target = best_possible_node(c, vm, loads(c))
    careless = not c.rule_on("failover_to_up_owner", vm, (dead.name,))
    if careless:
        target = _careless_target(c, vm, dead)
    if target is None or (target is dead and not careless):
        vm.group_state = "Failed"
        return
    rec = MoveRecord(vm.name, "failover", dead.name, target.name, crashed, state_before=before)
    vm.history.append(rec)
    c.unregister(vm, dead.name)
    c.register(vm, target.name)
    disk = c.cluster_disk_of(vm)
    if disk is not None:
        c.disk_owner[disk] = target.name
    vm.owner = target.name
    rec.transferred_at = at
    if before not in ("Running", "Paused"):
        vm.group_state = "Offline"
        rec.completed_at, rec.state_after = at, vm.state
        return
    cold = c.rule_on("crash_cold_start", vm, (dead.name, target.name))
    vm.state, vm.resource_state, vm.moving_to = "Starting", "OnlinePending", target.name
    c.log(target.name, EventId.ROLE_ONLINE_BEGIN, at, vm.name)
    if cold:
        vm.saved, vm.frozen_guest, vm.state_files_written = None, None, at
        vm.clock_offset_s, vm.guest_boot = 0.0, at

    def online(when: datetime) -> None:
        vm.state, vm.resource_state, vm.group_state = "Running", "Online", "Online"
        vm.heartbeat_ok, vm.moving_to = True, None
        rec.completed_at, rec.state_after = when, vm.state
        c.log(target.name, EventId.ROLE_ONLINE, when, vm.name)
        schedule_kvp(c, vm, dead.name, when)
        schedule_time_sync(c, vm, when)

    c.schedule(at + timedelta(seconds=COLD_BOOT_S), online)


def _careless_target(c: LabCluster, vm: VMState, dead: NodeState) -> NodeState | None:
    """Rule failover_to_up_owner off: a node that is not Up (a Paused one, else the crashed node
    itself), else one that may not own the VM."""
    others = [n for n in c.members() if n is not dead]
    paused = [n for n in others if n.state != "Up"]
    foreign = [n for n in others if not can_host(c, vm, n)]
    wrong = paused + foreign
    return wrong[0] if wrong else dead


def power_on(c: LabCluster, name: str) -> None:
    """The node boots and rejoins Up; nothing fails back."""
    with c.session():
        node = _member(c, name)
        node.state, node.drain_status = "Up", "NotInitiated"
