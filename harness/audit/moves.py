"""A quick migration as the audit performs it: snapshots before/after, trace, downtime."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.audit import settle
from harness.audit.catalog import VmFacts
from harness.audit.cluster import SAVE_STATES, Cluster, MoveTrace
from harness.audit.invariants import MoveCause, judge, saved_state_local, violations
from harness.audit.objects import ClusterEvent, GuestClock, Inventory, Registration, VmDetails
from harness.audit.savedstate import written_files
from harness.domain.events import EventId
from harness.errors import HarnessError, ProbeFailedError

# VM states that mean "still on its way" (Hyper-V's VMState names, Critical variants included).
TRANSITIONAL = frozenset(
    state + suffix
    for state in ("Saving", "Resuming", "Starting", "Stopping", "Pausing", "FastSaving", "Reset")
    for suffix in ("", "Critical")
)


@dataclass
class Snapshot:
    """Everything the per-VM claims compare, read at one moment."""

    utc: datetime
    inventory: Inventory
    owner: str
    details: VmDetails | None
    registrations: dict[str, Registration]
    resources: dict[str, list[dict[str, Any]]]
    clock: GuestClock | None
    network: dict[str, tuple[int, int]]

    def as_evidence(self) -> dict[str, Any]:
        d = self.details
        return {
            "utc": self.utc.isoformat(),
            "owner": self.owner,
            "state": d.state if d else None,
            "paths": dict(d.paths) if d else None,
            "disk_paths": list(d.disk_paths) if d else None,
            "macs": list(d.macs) if d else None,
            "uptime_s": d.uptime_s if d else None,
            "registrations": {
                n: {
                    "vm_known": r.vm_known,
                    "links": [list(x) for x in r.links],
                    "links_folder": r.links_folder,
                    "cache_entries": list(r.cache_entries),
                    "cache_folder": r.cache_folder,
                }
                for n, r in self.registrations.items()
            },
            "resources": self.resources,
            "guest_clock": None
            if self.clock is None
            else {
                "host_utc": self.clock.host_utc.isoformat(),
                "guest_utc": self.clock.guest_utc.isoformat(),
                "lag_s": self.clock.lag_s,
                "guest_last_boot": self.clock.guest_last_boot.isoformat(),
            },
            "network": {n: list(v) for n, v in self.network.items()},
        }


def snapshot(cluster: Cluster, vm: VmFacts) -> Snapshot:
    """Read the VM's owner, details, registration and resources on every up node, clock, network."""
    inventory = cluster.inventory()
    group = inventory.group_of(vm.name)
    nodes = [n.name for n in inventory.nodes if n.state in ("Up", "Paused")]
    details = cluster.vm_details(vm.id, group.owner_node)
    clock = None
    if details is not None and details.state == "Running":
        try:
            clock = cluster.guest_clock(vm.name, group.owner_node)
        except ProbeFailedError:
            # The guest did not answer (not running after all, no integration services): the
            # clock is unknown, and every check that needs it says so (BROKEN), none guesses.
            clock = None
    return Snapshot(
        utc=inventory.host_utc,
        inventory=inventory,
        owner=group.owner_node,
        details=details,
        registrations=cluster.registrations(vm.id, nodes),
        resources=cluster.resources(vm.id, nodes),
        clock=clock,
        network=cluster.network_sent(nodes),
    )


@dataclass
class MoveOutcome:
    """One VM's part of a move request."""

    vm: VmFacts
    source: str
    requested_node: str | None
    before: Snapshot
    trace: MoveTrace | None = None
    after: Snapshot | None = None
    refused: ProbeFailedError | None = None
    events: list[ClusterEvent] = field(default_factory=list)
    downtime_s: float | None = None
    downtime_source: str | None = None
    # Request to the first poll that saw the VM settled on its new owner (an upper bound), and
    # to the last poll before it (a lower bound): the move ended between the two.
    move_time_s: float | None = None
    move_time_min_s: float | None = None
    ground_truth_s: float | None = None
    # What every quick migration must keep, as judged for this move (empty = all held).
    invariants: dict[str, Any] = field(default_factory=dict)

    @property
    def final_owner(self) -> str:
        assert self.after is not None
        return self.after.owner

    def saw_state(self, states: frozenset[str], on_node: str | None = None) -> bool:
        if self.trace is None:
            return False
        # The node is the one whose Get-VM reported the state (one document), not the owner
        # the cluster named at another instant.
        return any(
            s.vm_state in states and (on_node is None or s.state_on(on_node))
            for s in self.trace.samples_of(self.vm.name)
        )

    def polls(self) -> dict[str, Any]:
        """How densely the move was watched (for a BROKEN verdict's figures)."""
        samples = self.trace.samples_of(self.vm.name) if self.trace else []
        times = [s.host_utc for s in samples]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        return {
            "polls": len(samples),
            "first_utc": times[0].isoformat() if times else None,
            "last_utc": times[-1].isoformat() if times else None,
            "largest_gap_s": max(gaps, default=None),
            "seen": [(s.host_utc.isoformat(), s.owner_node, s.vm_state) for s in samples],
        }

    def role_events(self, event_id: int, node: str | None = None) -> list[ClusterEvent]:
        return [
            e
            for e in self.events
            if e.id == event_id
            and e.is_about(self.vm.group, self.vm.id)
            and (node is None or e.node == node)
        ]


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def settled(status: dict[str, Any]) -> bool:
    """A VM's move is over when its group is not pending and its VM is not in transition."""
    return status["group_state"] != "Pending" and status.get("vm_state") not in TRANSITIONAL


def quick_migrate(
    cluster: Cluster,
    vms: Sequence[VmFacts],
    node: str | None,
    method: str = "vm_role",
    timeout_s: float = 900.0,
    expected_window_s: float | None = None,
    restoring: bool = False,
    cause: MoveCause | None = None,
) -> list[MoveOutcome]:
    """Quick-migrate `vms` in one request (-Wait 0), watch until settled, read the aftermath.

    Every VM that moved leaves a settle check (harness/audit/settle.py), run before the next
    action or at the scenario's end; the checks still pending are run first.
    """
    window = settle.window(cluster)
    window.check_due()
    outcomes = [MoveOutcome(vm, "", node, snapshot(cluster, vm)) for vm in vms]
    there = [o.vm.name for o in outcomes if node is not None and _same(o.before.owner, node)]
    if there:
        # The target was chosen on an older reading (the VM moved since, e.g. a late failback):
        # a request to where it is would be judged as a move. Evidence that cannot be gathered.
        raise HarnessError(
            f"{', '.join(there)} is already on {node}, the node chosen as its target: it moved "
            "since the target was chosen; the move is not requested"
        )
    moving = tuple(o.before.inventory.group_of(o.vm.name).name for o in outcomes)
    # Events from before the previous move settled are that move's (its 1204 on another node
    # would read as this move going offline in the wrong place).
    floor = cluster.quiet_since
    for outcome in outcomes:
        outcome.source = outcome.before.owner
    try:
        # One unit: the guard (lock, journal) covers the request and the watch until settled.
        move, trace = cluster.move_and_watch(
            [v.name for v in vms],
            node,
            settled,
            timeout_s,
            method=method,
            restoring=restoring,
            sources={o.vm.name: o.source for o in outcomes},
            vm_ids={v.name: v.id for v in vms},
            expected_window_s=expected_window_s,
        )
    except ProbeFailedError as refusal:
        for outcome in outcomes:
            outcome.refused = refusal
            outcome.after = snapshot(cluster, outcome.vm)
        return outcomes
    requested_utc = move.requested_utc
    for outcome in outcomes:
        outcome.trace = trace
        outcome.after = snapshot(cluster, outcome.vm)
        nodes = sorted({outcome.source, outcome.after.owner})
        # From just before the request (a slow or blocking request returns after the save began).
        since = min(requested_utc, move.started_utc) - timedelta(seconds=2)
        if floor is not None and floor > since:
            since = floor
        outcome.events = cluster.events(since, nodes)
        measure_downtime(outcome, requested_utc)
        outcome.invariants = violations(outcome.vm.id, outcome.before, outcome.after, node, moving)
        outcome.invariants.update(
            saved_state_local(
                outcome.before, trace.samples_of(outcome.vm.name), outcome.source, requested_utc
            )
        )
        outcome.invariants.update(save_missing(outcome, method))
        window.expect(
            outcome.vm,
            outcome.before,
            outcome.after,
            cause or MoveCause("observed", "", f"{outcome.vm.name} by {method}"),
            moving,
            set(outcome.invariants),
        )
    return outcomes


# Events that show the role went offline (began, completed) and that it moved or came online.
_OFFLINE_EVENTS = (EventId.ROLE_OFFLINE_BEGIN, EventId.ROLE_OFFLINE)
_MOVE_EVENTS = (EventId.ROLE_MOVING, EventId.ROLE_ONLINE_BEGIN, EventId.ROLE_ONLINE)


def save_missing(o: MoveOutcome, method: str) -> dict[str, Any]:
    """QM-01 for every way of requesting a quick migration: a running VM that changed owner
    must show its save. Any witness clears it: a poll saw Saving/Saved, a saved-state file
    changed on the source, or the cluster logged the role going offline (1203/1204).

    The violation needs the cluster's own log to speak: it logged the move (1641) or the role
    coming online (1200/1201) on the nodes read, yet no offline event at all, and no poll or
    file saw a save. A log without any of the move's events proves nothing (no finding).
    """
    d = o.before.details
    if d is None or d.state != "Running" or o.trace is None or o.after is None:
        return {}
    if o.after.owner.casefold() == o.source.casefold():
        return {}
    samples = o.trace.samples_of(o.vm.name)
    if any(s.vm_state in SAVE_STATES for s in samples):
        return {}
    if written_files(d.saved_state, samples, o.source, o.trace.requested_utc):
        return {}
    if any(o.role_events(i) for i in _OFFLINE_EVENTS):
        return {}
    logged = [e for i in _MOVE_EVENTS for e in o.role_events(i)]
    if not logged:
        return {}
    return {
        "save": {
            "method": method,
            "source": o.source,
            "target": o.after.owner,
            "logged": [[e.node, e.id, e.time.isoformat()] for e in logged],
            "offline_events": [],
            "polls": [[s.host_utc.isoformat(), s.owner_node, s.vm_state] for s in samples],
        }
    }


def judged_move(
    cluster: Cluster,
    vms: Sequence[VmFacts],
    node: str | None,
    cause: MoveCause,
    timeout_s: float = 900.0,
    expected_window_s: float | None = None,
    restoring: bool = False,
) -> list[MoveOutcome]:
    """A move the scenario does not judge itself (setup, restore, a leg): every invariant must
    hold, else AssertionError naming the move; a refusal is raised as it came."""
    __tracebackhide__ = True
    outcomes = quick_migrate(
        cluster,
        vms,
        node,
        "vm_role",
        timeout_s,
        expected_window_s,
        restoring=restoring,
        cause=cause,
    )
    for outcome in outcomes:
        if outcome.refused is not None:
            raise outcome.refused
        judge_outcome(outcome, node, cause)
    return outcomes


def judge_outcome(outcome: MoveOutcome, node: str | None, cause: MoveCause) -> None:
    """Judge one watched move by the findings already made for it (`invariants.judge`)."""
    __tracebackhide__ = True
    assert outcome.after is not None
    judge(
        outcome.vm.name,
        outcome.vm.id,
        outcome.before,
        outcome.after,
        node,
        cause,
        outcome.invariants,
    )


def measure_downtime(outcome: MoveOutcome, requested_utc: datetime) -> None:
    """Downtime from the cluster's events: offline begins on the source -> online on the owner.

    Falls back to polling when the events are missing; move time (request -> settled on the new
    owner) is measured for every VM, which is what an Off VM's move is judged by.
    """
    # The reply's timestamp is taken just after the cluster began the move, so the offline
    # event of *this* move is the one nearest to the request, not necessarily after it.
    offline = sorted(
        outcome.role_events(EventId.ROLE_OFFLINE_BEGIN, outcome.source),
        key=lambda e: abs((e.time - requested_utc).total_seconds()),
    )[:1]
    online = [e for e in outcome.role_events(EventId.ROLE_ONLINE, outcome.final_owner)]
    if offline:
        after = [e for e in online if e.time >= offline[0].time]
        if after:
            outcome.downtime_s = (after[0].time - offline[0].time).total_seconds()
            outcome.downtime_source = "events"
    if outcome.downtime_s is None and outcome.trace is not None:
        samples = outcome.trace.samples_of(outcome.vm.name)
        down = [s for s in samples if s.vm_state not in ("Running", None)]
        if down:
            back = [s for s in samples if s.host_utc > down[0].host_utc and s.vm_state == "Running"]
            end = back[0].host_utc if back else outcome.trace.settled_utc
            if end is not None:
                outcome.downtime_s = (end - down[0].host_utc).total_seconds()
                outcome.downtime_source = "polling"
    if outcome.trace is not None:
        arrived = outcome.trace.first_settled_owner_utc(outcome.vm.name, outcome.final_owner)
        if arrived is not None:
            outcome.move_time_s = (arrived - requested_utc).total_seconds()
            # The poll before the arrival saw the VM not yet there: the move took at least this
            # long (the bracket a "too slow" verdict needs; move_time_s is only an upper bound).
            before = [
                s.host_utc
                for s in outcome.trace.samples_of(outcome.vm.name)
                if s.host_utc < arrived
            ]
            outcome.move_time_min_s = max(
                0.0, (max(before) - requested_utc).total_seconds() if before else 0.0
            )
