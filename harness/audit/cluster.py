"""The Cluster facade: domain observations and actions over the probe seam."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.audit.guard import ActionGuard, ActionRequest, VmPlace, places
from harness.audit.objects import (
    ClusterEvent,
    GuestClock,
    Inventory,
    Registration,
    SavedFile,
    VmDetails,
    parse_utc,
)
from harness.domain import events
from harness.drivers.base import Driver
from harness.errors import HarnessError, ProbeFailedError, ProbeOutputError, TransportError

# What a move leaves in the cluster's logs (harness/domain/events.py holds ids and channels).
MOVE_EVENT_IDS: tuple[int, ...] = tuple(int(i) for i in events.MOVE_EVENTS)
SAVE_STATES = frozenset({"Saving", "Saved"})
# A save in progress: the only state that shows where the save is being made.
SAVING_STATES = frozenset({"Saving", "FastSaving", "SavingCritical", "FastSavingCritical"})
# Polls wanted inside a move's expected save window, and how far the pause may shrink for that.
POLLS_PER_WINDOW = 6
MIN_PAUSE_FRACTION = 0.05


@dataclass
class MoveSample:
    """One poll during a move: what the cluster and the source's Hyper-V reported.

    A poll is several probe documents, each read at its own instant (seconds apart on Windows):
    the cluster's view (`host_utc`, owner, group state), the state Get-VM gave on the node named
    `state_node` at `state_utc`, and the source's own view (`view_*`: state, heartbeat and
    saved-state files of one vm_details document, with the state read again after the files,
    `view_state_after`). A judge combines facts of one document only (docs/observables.md).
    """

    host_utc: datetime
    vm: str
    owner_node: str
    group_state: str
    vm_state: str | None
    saved_state_files: tuple[str, ...] = ()
    heartbeat: str | None = None
    saved_state: tuple[SavedFile, ...] = ()
    state_node: str | None = None
    state_utc: datetime | None = None
    view_node: str | None = None
    view_utc: datetime | None = None
    view_state: str | None = None
    view_state_after: str | None = None
    view_listing: str | None = None

    def viewed_on(self, node: str) -> bool:
        """Whether this poll holds a vm_details document of `node` that found the VM."""
        return self.view_node is not None and self.view_node.casefold() == node.casefold()

    def state_on(self, node: str) -> bool:
        """Whether `vm_state` was reported by `node`'s own Get-VM."""
        return self.state_node is not None and self.state_node.casefold() == node.casefold()

    def as_dict(self) -> dict[str, Any]:
        return {
            "host_utc": self.host_utc.isoformat(),
            "vm": self.vm,
            "owner_node": self.owner_node,
            "group_state": self.group_state,
            "vm_state": self.vm_state,
            "state_node": self.state_node,
            "state_utc": self.state_utc.isoformat() if self.state_utc else None,
            "view_node": self.view_node,
            "view_utc": self.view_utc.isoformat() if self.view_utc else None,
            "view_state": self.view_state,
            "view_state_after": self.view_state_after,
            "view_listing": self.view_listing,
            "saved_state_files": list(self.saved_state_files),
            "heartbeat": self.heartbeat,
            "saved_state": [
                {
                    "path": f.path,
                    "bytes": f.bytes,
                    "last_write_utc": f.last_write.isoformat() if f.last_write else None,
                }
                for f in self.saved_state
            ],
        }


@dataclass
class MoveTrace:
    """What was seen of one move request, from the request until every VM settled."""

    requested_utc: datetime
    request: dict[str, Any]
    sources: dict[str, str]
    samples: list[MoveSample] = field(default_factory=list)
    settled_utc: datetime | None = None

    def samples_of(self, vm: str) -> list[MoveSample]:
        return [s for s in self.samples if s.vm == vm]

    def first_settled_owner_utc(self, vm: str, owner: str) -> datetime | None:
        for sample in self.samples_of(vm):
            if sample.owner_node.casefold() == owner.casefold() and sample.group_state != "Pending":
                return sample.host_utc
        return None


@dataclass(frozen=True)
class MoveRequest:
    """A move as the cluster accepted it: the target time of the request and the reply."""

    requested_utc: datetime
    reply: dict[str, Any]

    @property
    def started_utc(self) -> datetime:
        """The node's clock just before the first request: every event of the move follows it
        (`requested_utc`, stamped when the requests returned, may come after the save began)."""
        return parse_utc(self.reply["requested_utc"])


def adapt_pause(pause: float, gap_s: float, window_s: float, ceiling: float) -> float:
    """The next pause between polls: scaled so the target-time gap is window/POLLS_PER_WINDOW.

    The gap between two polls is the pause plus the poll's own duration; on a busy machine the
    latter grows, so the pause shrinks (to MIN_PAUSE_FRACTION of the ceiling at least).
    """
    wanted = window_s / POLLS_PER_WINDOW
    if gap_s <= 0:
        return pause
    scaled = pause * wanted / gap_s
    return max(ceiling * MIN_PAUSE_FRACTION, min(ceiling, scaled))


class Cluster:
    """Domain-level access to a target cluster through a Driver."""

    def __init__(
        self,
        driver: Driver,
        poll_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        guard: ActionGuard | None = None,
    ) -> None:
        self.driver = driver
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep
        self._down: set[str] = set()
        # Every action passes the guard; without one nothing is refused, locked or journalled.
        self.guard = guard or ActionGuard()
        self._in_action = 0
        # Host time the last watched move settled: an event before it belongs to that move, not
        # to the next one (moves of one VM can follow each other within seconds).
        self.quiet_since: datetime | None = None
        # The run's settle window (harness/audit/settle.py): its pending checks run before the
        # next action, so no move is judged only at the instant it settled.
        self.settle: Any = None

    # ----- plumbing -------------------------------------------------------------------------
    def _control_node(self) -> str:
        for node in self.driver.nodes:
            if node not in self._down:
                return node
        raise HarnessError("no node of the target is reachable")

    def probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """Run a probe; cluster-wide probes go to a node believed to be up.

        A document Windows answered but the schema refuses (an unknown enum value, a missing
        field) is evidence that could not be read: it names the node as well as probe and value.
        """
        target = node or self._control_node()
        try:
            return self.driver.run_probe(name, params or {}, target)
        except ProbeOutputError as exc:
            if exc.node is not None:
                raise
            raise ProbeOutputError(exc.probe, exc.json_path, exc.reason, target) from exc

    def mark_down(self, node: str, down: bool = True) -> None:
        """Tell the facade not to use `node` for cluster-wide probes (crashed in a scenario)."""
        (self._down.add if down else self._down.discard)(node)

    # ----- observations ---------------------------------------------------------------------
    def inventory(self) -> Inventory:
        return Inventory.from_doc(self.probe("cluster_inventory"))

    def host_info(self, node: str) -> dict[str, Any]:
        return self.probe("host_info", node=node)

    def now(self, node: str | None = None) -> datetime:
        """The target's clock (UTC) as the node reports it."""
        return parse_utc(self.probe("host_info", node=node)["host_utc"])

    def vm_details(self, vm_id: str, owner: str) -> VmDetails | None:
        doc = self.probe("vm_details", {"vm_id": vm_id}, owner)
        return VmDetails.from_doc(doc) if doc["found"] and doc["vm"] is not None else None

    def registrations(self, vm_id: str, nodes: Iterable[str]) -> dict[str, Registration]:
        return {
            node: Registration.from_doc(self.probe("vm_registration", {"vm_id": vm_id}, node))
            for node in nodes
        }

    def resources(self, vm_id: str, nodes: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Per node, the VM's resources as that node reads them; each carries the values of the
        VM's group that node read (`group_values`, for the whole-VM fingerprint)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for node in nodes:
            doc = self.probe("vm_resources", {"vm_id": vm_id}, node)
            group = doc.get("group")
            out[node] = [
                {**r, "group_values": group} if group is not None else r for r in doc["resources"]
            ]
        return out

    def guest_clock(self, vm_name: str, owner: str) -> GuestClock:
        return GuestClock.from_doc(self.probe("guest_clock", {"vm_name": vm_name}, owner))

    def kvp(self, vm_name: str, owner: str) -> dict[str, str]:
        return dict(self.probe("guest_kvp", {"vm_name": vm_name}, owner)["items"])

    def path_info(self, path: str, node: str) -> dict[str, Any]:
        return self.probe("path_info", {"path": path}, node)

    def network_sent(self, nodes: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Per node (bytes sent, bytes received) summed over its cluster networks."""
        out: dict[str, tuple[int, int]] = {}
        for node in nodes:
            adapters = self.probe("network_counters", node=node)["adapters"]
            out[node] = (
                sum(int(a["sent_bytes"]) for a in adapters),
                sum(int(a["received_bytes"]) for a in adapters),
            )
        return out

    def events(
        self, since: datetime, nodes: Iterable[str], ids: Sequence[int] = MOVE_EVENT_IDS
    ) -> list[ClusterEvent]:
        """Cluster events of the given ids on the given nodes since a time, oldest first.

        Each id is read from the log Windows writes it to; an event from another log or in a
        form Windows does not define is BROKEN evidence (events.EventFormError), never guessed.
        """
        found: list[ClusterEvent] = []
        params = {
            "since_utc": since.isoformat().replace("+00:00", "Z"),
            "queries": events.queries(ids),
        }
        for node in nodes:
            doc = self.probe("cluster_events", params, node)
            for e in doc["events"]:
                props = events.check_form(
                    int(e["id"]), e["log"], tuple(e["properties"]), f" on {node}", e.get("message")
                )
                found.append(
                    ClusterEvent(
                        node,
                        e["provider"],
                        int(e["id"]),
                        parse_utc(e["time_utc"]),
                        props,
                        e["log"],
                    )
                )
        return sorted(found, key=lambda e: e.time)

    def move_status(self, vm_names: Sequence[str]) -> tuple[datetime, list[dict[str, Any]]]:
        """Group state and owner of each VM's role, and the VM's state as its owner reports it.

        Get-VM answers only on the VM's owner, so the state of a VM another node owns is asked
        of that node (one more probe per such owner); it stays None where the owner cannot be
        asked (down, unreachable).
        """
        control = self._control_node()
        doc = self.probe("move_status", {"vm_names": list(vm_names)}, node=control)
        statuses = [dict(s) for s in doc["vms"]]
        # Who reported each VM's state, and when (a later probe than the cluster's view).
        for status in statuses:
            status["state_node"] = doc["node"] if status.get("vm_state") is not None else None
            status["state_utc"] = doc["host_utc"] if status.get("vm_state") is not None else None
        elsewhere: dict[str, list[dict[str, Any]]] = {}
        for status in statuses:
            owner = status.get("owner_node") or ""
            if owner and owner.casefold() != control.casefold() and owner not in self._down:
                elsewhere.setdefault(owner, []).append(status)
        for owner, mine in elsewhere.items():
            try:
                local = self.probe("move_status", {"vm_names": [s["vm"] for s in mine]}, owner)
            except (ProbeFailedError, TransportError):
                continue
            states = {s["vm"]: s.get("vm_state") for s in local["vms"]}
            for status in mine:
                status["vm_state"] = states.get(status["vm"])
                known = status["vm_state"] is not None
                status["state_node"] = local["node"] if known else None
                status["state_utc"] = local["host_utc"] if known else None
        return parse_utc(doc["host_utc"]), statuses

    # ----- actions --------------------------------------------------------------------------
    # Every disruptive call is one visible unit: `moving()`, `draining()`, `crashing()` (or the
    # general `action()`) pass the guard (policy, stop flag, cluster lock, journal) on entry and
    # release it when the block ends, so the lock covers the request *and* the caller's wait
    # inside the block, and nothing stays held by a request no one waits on. `move_and_watch()`
    # is the one-call form of a move. `watch()` and `wait_until()` only read.
    def vm_places(self, vm_names: Sequence[str]) -> list[VmPlace]:
        """Where the VMs are and in which state, as the cluster reports now."""
        return places(self.move_status(list(vm_names))[1]) if vm_names else []

    def node_places(self, node: str) -> list[VmPlace]:
        """Every clustered VM owned by `node` (a drain or crash touches all of them)."""
        return self.vm_places(self.node_vms(node))

    def node_vms(self, node: str) -> list[str]:
        """The clustered VMs `node` owns now."""
        return [g.vm_name for g in self.inventory().roles_on(node)]

    @contextmanager
    def action(
        self,
        kind: str,
        vms: Sequence[str] = (),
        nodes: Sequence[str] = (),
        to: str | None = None,
        restoring: bool = False,
    ) -> Iterator[ActionRequest | None]:
        """Hold the guard (lock + journal entry) for everything done inside the block."""
        if self._in_action:
            yield None
            return
        if self.settle is not None:
            self.settle.check_due()
        request = self.guard.before(
            ActionRequest(kind, self.vm_places(vms), list(nodes), to, restoring)
        )
        self._in_action += 1
        ok = False
        try:
            yield request
            ok = True
        finally:
            self._in_action -= 1
            self.guard.after(request, ok)

    def _inside_action(self, what: str) -> None:
        if not self._in_action:
            raise HarnessError(
                f"{what} must run inside one guarded unit (cluster.moving(), draining(), "
                "crashing() or action()), so the lock is released when its wait ends"
            )

    @contextmanager
    def moving(
        self,
        vm_names: Sequence[str],
        node: str | None,
        method: str = "vm_role",
        restoring: bool = False,
    ) -> Iterator[MoveRequest]:
        """One quick migration as one unit: guard, request (-Wait 0), the block's wait, release."""
        with self.action("move", vm_names, to=node, restoring=restoring):
            requested_utc, reply = self.request_move(vm_names, node, method, restoring)
            yield MoveRequest(requested_utc, reply)

    def move_and_watch(
        self,
        vm_names: Sequence[str],
        node: str | None,
        done: Callable[[dict[str, Any]], bool],
        timeout_s: float,
        *,
        method: str = "vm_role",
        restoring: bool = False,
        sources: dict[str, str] | None = None,
        vm_ids: dict[str, str] | None = None,
        expected_window_s: float | None = None,
    ) -> tuple[MoveRequest, MoveTrace]:
        """A move in one call: request it, watch until `done` holds for every VM, release."""
        with self.moving(vm_names, node, method, restoring) as move:
            trace = self.watch(
                vm_names,
                sources or {},
                move.requested_utc,
                move.reply,
                done,
                timeout_s,
                vm_ids,
                expected_window_s,
            )
        return move, trace

    @contextmanager
    def draining(self, node: str) -> Iterator[dict[str, Any]]:
        """A drain as one unit: every VM on the node must be allowed; wait inside the block."""
        with self.action("drain", self.node_vms(node), [node]):
            yield self.drain(node)

    @contextmanager
    def crashing(self, node: str) -> Iterator[dict[str, Any]]:
        """A lab node crash as one unit: every VM on it must be allowed; wait inside the block."""
        vms = self.node_vms(node)
        with self.action("crash", vms, [node]):
            if self.settle is not None:
                # Its VMs fail over and boot cold: what their last moves left is gone by design.
                self.settle.forget(vms)
            yield self.lab_crash(node)

    def request_move(
        self,
        vm_names: Sequence[str],
        node: str | None,
        method: str = "vm_role",
        restoring: bool = False,
    ) -> tuple[datetime, dict[str, Any]]:
        """Ask for a quick migration with -Wait 0 (inside a unit); the target time and reply."""
        self._inside_action("request_move")
        params = {"vm_names": list(vm_names), "node": node, "method": method}
        doc = self.probe("move_vm", params)
        return parse_utc(doc["host_utc"]), doc

    def watch(
        self,
        vm_names: Sequence[str],
        sources: dict[str, str],
        requested_utc: datetime,
        request: dict[str, Any],
        done: Callable[[dict[str, Any]], bool],
        timeout_s: float,
        vm_ids: dict[str, str] | None = None,
        expected_window_s: float | None = None,
    ) -> MoveTrace:
        """Poll until `done(status)` holds for every VM, sampling the source's Hyper-V view.

        `timeout_s` is measured on the target's clock. While a VM is still on its source, its
        details are read there too (saved-state files, heartbeat), so a Saving/Saved window is
        caught even when the cluster-level status only says Pending. With `expected_window_s`
        (target seconds) the pause between polls adapts so that polls land about
        POLLS_PER_WINDOW times per window even when each poll itself is slow (a busy machine).
        """
        trace = MoveTrace(requested_utc, request, dict(sources))
        deadline = requested_utc + timedelta(seconds=timeout_s)
        pause = self.poll_interval_s
        previous: datetime | None = None
        while True:
            now, statuses = self.move_status(vm_names)
            settled = True
            for status in statuses:
                sample = MoveSample(
                    now,
                    status["vm"],
                    status["owner_node"],
                    status["group_state"],
                    status["vm_state"],
                    state_node=status.get("state_node"),
                    state_utc=parse_utc(status["state_utc"]) if status.get("state_utc") else None,
                )
                vm_id = (vm_ids or {}).get(status["vm"])
                source = sources.get(status["vm"])
                if vm_id and source and status["owner_node"] == source and source not in self._down:
                    try:
                        details = self.vm_details(vm_id, source)
                    except (ProbeFailedError, TransportError):
                        details = None
                    if details is not None:
                        # One document: state, heartbeat and files of the source's Hyper-V.
                        sample.vm_state = details.state
                        sample.state_node, sample.state_utc = details.node, details.host_utc
                        sample.view_node, sample.view_utc = details.node, details.host_utc
                        sample.view_state = details.state
                        sample.view_state_after = details.state_after_files
                        sample.view_listing = details.saved_state_listing
                        sample.saved_state_files = details.saved_state_files
                        sample.saved_state = details.saved_state
                        sample.heartbeat = details.heartbeat
                trace.samples.append(sample)
                settled = settled and done(status)
            if settled:
                trace.settled_utc = now
                self.quiet_since = now
                return trace
            if now > deadline:
                raise HarnessError(
                    f"move of {', '.join(vm_names)} did not settle within {timeout_s:.0f} s "
                    f"(target time); last status: {statuses}"
                )
            if expected_window_s and previous is not None:
                pause = adapt_pause(
                    pause,
                    (now - previous).total_seconds(),
                    expected_window_s,
                    self.poll_interval_s,
                )
            previous = now
            self._sleep(pause)

    def wait_until(
        self,
        check: Callable[[], Any],
        timeout_s: float,
        what: str,
        node: str | None = None,
    ) -> Any:
        """Call `check` until it returns a truthy value or `timeout_s` of target time passed."""
        start = self.now(node)
        while True:
            result = check()
            if result:
                return result
            if (self.now(node) - start).total_seconds() > timeout_s:
                return result
            self._sleep(self.poll_interval_s)

    def wait_target_seconds(self, seconds: float, node: str | None = None) -> datetime:
        """Let `seconds` of the target's time pass; returns the target time at the end."""
        start = self.now(node)
        while True:
            now = self.now(node)
            if (now - start).total_seconds() >= seconds:
                return now
            self._sleep(self.poll_interval_s)

    def drain(self, node: str) -> dict[str, Any]:
        """Ask for a drain (returns at once); inside `draining()`, which guards the node's VMs."""
        self._inside_action("drain")
        return dict(self.probe("drain_node", {"node": node}))

    def resume(self, node: str, restoring: bool = False) -> dict[str, Any]:
        with self.action("resume", nodes=[node], restoring=restoring):
            return self.probe("resume_node", {"node": node})

    def lab_crash(self, node: str) -> dict[str, Any]:
        """Crash a lab node (inside `crashing()`, which guards every VM it owns)."""
        self._inside_action("lab_crash")
        doc = self.probe("lab_crash_node", {"node": node}, self._other_than(node))
        self.mark_down(node)
        return dict(doc)

    def lab_power_on(self, node: str, restoring: bool = False) -> dict[str, Any]:
        with self.action("power_on", nodes=[node], restoring=restoring):
            doc = self.probe("lab_power_on_node", {"node": node}, self._other_than(node))
        self.mark_down(node, False)
        return doc

    def _other_than(self, node: str) -> str:
        for candidate in self.driver.nodes:
            if candidate != node and candidate not in self._down:
                return candidate
        raise HarnessError(f"no node other than {node} is reachable")
