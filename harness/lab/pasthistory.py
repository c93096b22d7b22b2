"""The lab's past: the event history of the moves its cluster made before the audit started.

A passive audit judges the moves a cluster already made from its event logs, so the lab starts
with a realistic past, written with the same vocabulary (harness/audit/events.py) and the same
event order as the lab's own quick migrations (harness/lab/moves.py): per running VM a move away
and back, a node drained for maintenance (low-priority roles quick-migrated, the others live
-migrated: 1641 only) and failed back, a node lost (1135 on the survivors) whose roles failed
over and were moved home later, and one slow outlier. Every VM ends where the topology puts it.
A topology switching rule history_offline_before_online off gets bad past moves for that VM.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from harness.domain.events import EventId

if TYPE_CHECKING:
    from harness.lab.model import LabCluster
    from harness.lab.state import VMState

DAYS = 20
TRANSFER_S = 0.5


def _speeds(c: LabCluster, vm: VMState, node: str) -> tuple[float, float]:
    ref = c.storage_of(vm.folder, node)
    if ref is None:
        return 300e6, 400e6
    return ref.write_mb_s * 1e6, ref.read_mb_s * 1e6


def _quick(
    c: LabCluster, vm: VMState, source: str, target: str, t: datetime, slow: float = 1.0
) -> datetime:
    """The events of one quick migration starting at t; returns when the role was online."""
    write_bps, read_bps = _speeds(c, vm, source)
    save = slow * vm.memory_bytes / write_bps
    restore = slow * vm.memory_bytes / read_bps
    lead = 0.0
    if not c.rule_on("history_offline_before_online", vm):
        lead = float(c.rule_params("history_offline_before_online", vm).get("lead_s", 60))
    c.log(source, EventId.ROLE_MOVING, t, vm.name, source, target)
    c.log(source, EventId.ROLE_OFFLINE_BEGIN, t, vm.name)
    c.log(source, EventId.ROLE_OFFLINE, t + timedelta(seconds=save + lead), vm.name)
    begin = t + timedelta(seconds=save + TRANSFER_S)
    c.log(target, EventId.ROLE_ONLINE_BEGIN, begin, vm.name)
    done = begin + timedelta(seconds=restore)
    c.log(target, EventId.ROLE_ONLINE, done, vm.name)
    return done


def _live(c: LabCluster, vm: VMState, source: str, target: str, t: datetime) -> None:
    """A live migration as the lab logs it (the role moves; it never goes offline)."""
    c.log(source, EventId.ROLE_MOVING, t, vm.name, source, target)


def _other(c: LabCluster, vm: VMState, up: list[str], not_: str) -> str | None:
    possible = [n.lower() for n in vm.spec.possible_owners] or [n.lower() for n in up]
    return next((n for n in up if n.lower() in possible and n.lower() != not_.lower()), None)


def seed_history(c: LabCluster) -> None:
    """Write the past moves' events into the nodes' logs (all before the lab's start)."""
    up = [n.name for n in c.members() if n.state == "Up"]
    if len(up) < 2:
        return
    base = c.started - timedelta(days=DAYS)
    running = sorted((v for v in c.vms.values() if v.state == "Running"), key=lambda v: v.name)
    # Each running VM: away and back on one night (user-requested quick migrations).
    for i, vm in enumerate(running):
        other = _other(c, vm, up, vm.owner)
        if other is None:
            continue
        t = base + timedelta(days=1 + (i * 3) % (DAYS - 8), hours=2, minutes=7 * i)
        back = _quick(c, vm, vm.owner, other, t)
        _quick(c, vm, other, vm.owner, back + timedelta(hours=1))
    # A node drained for maintenance, then failed back.
    threshold = c.topology.cluster.move_type_threshold
    drained = next((n for n in up if any(v.owner == n for v in running)), None)
    if drained is not None:
        t = base + timedelta(days=DAYS - 6, hours=22)
        for k, vm in enumerate(v for v in running if v.owner == drained):
            other = _other(c, vm, up, drained)
            if other is None:
                continue
            at = t + timedelta(seconds=20 * k)
            back_at = t + timedelta(hours=2, seconds=20 * k)
            if vm.spec.priority < threshold:
                _quick(c, vm, drained, other, at)
                _quick(c, vm, other, drained, back_at)
            else:
                _live(c, vm, drained, other, at)
                _live(c, vm, other, drained, back_at)
    # A node lost: the survivors log 1135, its roles start on another node, later moved home.
    lost = next(
        (n for n in reversed(up) if n != drained and any(v.owner == n for v in running)), None
    )
    if lost is not None:
        t = base + timedelta(days=DAYS - 12, hours=14, minutes=3)
        for survivor in (n for n in up if n != lost):
            c.log(survivor, EventId.NODE_REMOVED, t + timedelta(seconds=1), lost)
        for k, vm in enumerate(v for v in running if v.owner == lost):
            other = _other(c, vm, up, lost)
            if other is None:
                continue
            begin = t + timedelta(seconds=15 + 5 * k)
            c.log(other, EventId.ROLE_ONLINE_BEGIN, begin, vm.name)
            c.log(other, EventId.ROLE_ONLINE, begin + timedelta(seconds=40), vm.name)
            _quick(c, vm, other, lost, t + timedelta(hours=3, minutes=5 * k))
    # One slow move (the storage was busy): an outlier, not a violation.
    if running:
        big = max(running, key=lambda v: (v.memory_bytes, v.name))
        other = _other(c, big, up, big.owner)
        if other is not None:
            t = base + timedelta(days=DAYS - 3, hours=3)
            back = _quick(c, big, big.owner, other, t, slow=6.0)
            _quick(c, big, other, big.owner, back + timedelta(minutes=30))


def seed_registrations(c: LabCluster) -> None:
    """Rule single_registration off: another node still knows the VM from a past move."""
    for vm in c.vms.values():
        if c.rule_on("single_registration", vm):
            continue
        up = [n.name for n in c.members()]
        other = _other(c, vm, up, vm.owner)
        if other is not None:
            c.node(other).registered.add(vm.vm_id)
