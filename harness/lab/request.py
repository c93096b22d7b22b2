"""A move request (Move-ClusterVirtualMachineRole -Wait 0): checks first, then the moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.domain.events import EventId
from harness.errors import LabOperationError
from harness.lab.moves import saved_state_for, start_move, state_location, storage_rates
from harness.lab.placement import best_possible_node, check_target, loads

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import VMState


def _validate(c: LabCluster, vm: VMState, node: str | None) -> None:
    if vm.moving_to is not None or vm.group_state == "Pending":
        raise LabOperationError(
            5023, f"The group '{vm.name}' is not in the correct state: a move is in progress"
        )
    nodes = (vm.owner,) if node is None else (vm.owner, node)
    if vm.state != "Running" and not c.rule_on("any_state_movable", vm, nodes):
        raise LabOperationError(5023, f"The group '{vm.name}' cannot be moved in state {vm.state}")
    if vm.spec.passthrough_disk and not c.rule_on("passthrough_quick_migrates", vm, nodes):
        raise LabOperationError(5023, f"The pass-through disk of '{vm.name}' could not be moved")


def request_moves(
    c: LabCluster, vm_names: list[str], node: str | None, method: str
) -> list[dict[str, Any]]:
    """Move-ClusterVirtualMachineRole / Move-ClusterGroup -Wait 0 for one or several VMs."""
    if method not in ("vm_role", "cluster_group"):
        raise ValueError(f"unknown move method {method!r}")
    wait_until: datetime | None = None
    with c.session() as now:
        vms = list({v.name: v for v in (c.vm(name) for name in vm_names)}.values())
        if not vms:
            raise LabOperationError(5013, "No cluster group was named")
        if len(vms) > 1:
            vms = [
                v
                for i, v in enumerate(vms)
                if i == 0 or c.rule_on("multi_vm_request", v, (v.owner,))
            ]
        for vm in vms:
            _validate(c, vm, node)
        if node is not None and (node.lower() not in c.nodes or not c.node(node).member):
            broken = [v for v in vms if not c.rule_on("refuse_non_member", v, (v.owner,))]
            for vm in broken:  # the broken cluster saves first and checks the target afterwards
                if vm.state in ("Running", "Paused"):
                    _save_in_place(c, vm, now)
            raise LabOperationError(5042, "The cluster node was not found")
        load = loads(c)
        targets = {}
        for vm in vms:
            if node is not None:
                targets[vm.name] = check_target(c, vm, node).name
            else:
                best = best_possible_node(c, vm, load)
                if best is None:
                    raise LabOperationError(
                        5005, f"No cluster node is available to host '{vm.name}'"
                    )
                targets[vm.name] = best.name
                load[best.name] = load.get(best.name, 0) + 1
        for vm in vms:
            # Rule move_request_saves off: this way of asking live-migrates a running VM.
            nodes = (vm.owner, targets[vm.name])
            live = not c.rule_on("move_request_saves", vm, nodes) and c.rule_params(
                "move_request_saves", vm, nodes
            ).get("method", "cluster_group") in (method, "any")
            end = start_move(c, vm, targets[vm.name], now, live=live)
            if not c.rule_on("wait_zero_returns_pending", vm, (vm.owner, targets[vm.name])):
                wait_until = max(end, wait_until or end)
    if wait_until is not None:  # outside the lock: the broken -Wait 0 blocks until done
        c.clock.sleep_until(wait_until)
    with c.session():
        return [
            {"vm": v.name, "group": v.name, "owner_node": v.owner, "state": v.group_state}
            for v in vms
        ]


def _save_in_place(c: LabCluster, vm: VMState, now: datetime) -> None:
    """Rule refuse_non_member off: the VM is saved on its source before the refusal."""
    folder, ref = state_location(c, vm, vm.owner)
    write_bps, _ = storage_rates(c, vm, ref, (vm.owner,))
    vm.saved = saved_state_for(vm, folder, now, write_bps)
    vm.state, vm.group_state, vm.resource_state, vm.heartbeat_ok = (
        "Saving",
        "Pending",
        "OfflinePending",
        False,
    )
    vm.frozen_guest = vm.guest_now(now)
    c.log(vm.owner, EventId.ROLE_OFFLINE_BEGIN, now, vm.name)

    def saved(at: datetime) -> None:
        assert vm.saved is not None
        vm.saved.finish(at)
        vm.state, vm.group_state, vm.resource_state = "Saved", "Offline", "Offline"
        c.log(vm.owner, EventId.ROLE_OFFLINE, at, vm.name)

    c.schedule(now + timedelta(seconds=vm.memory_bytes / write_bps), saved)
