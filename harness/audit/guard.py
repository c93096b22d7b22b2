"""The gate every disruptive action passes: stop flag, VM policy, cluster lock, journal, budget."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.audit.journal import Journal
from harness.audit.lock import ClusterLock
from harness.errors import HarnessError


class Lease(Protocol):
    """What the guard asks of a run lease (harness/run/lease.py): is it still held?"""

    @property
    def held(self) -> bool:
        """True while the run holds the cluster's lease."""
        ...

    def release(self) -> None:
        """Drop this process from the lease."""
        ...


class ActionRefusedError(HarnessError):
    """A disruptive action would touch a VM the target does not allow: nothing was changed."""


class MoveBudgetError(HarnessError):
    """A quick migration would take the run past --max-moves: refused, nothing was changed."""


class PassiveRefusedError(ActionRefusedError):
    """A passive audit asked for a disruptive action: refused before anything, never journalled."""


class RunInterruptedError(HarnessError):
    """The run was asked to stop: no new action is started."""


@dataclass
class StopFlag:
    """Set by the run's signal handlers; read by the guard before every action."""

    stopping: bool = False
    abandoned: bool = False
    signum: int | None = None

    def request(self, signum: int) -> None:
        """First signal: stop starting actions; a second one: stop restoring too."""
        if self.stopping:
            self.abandoned = True
        self.stopping = True
        self.signum = self.signum or signum


@dataclass(frozen=True)
class VmPlace:
    """A VM an action touches, where it is and in which state when the action is requested."""

    vm: str
    owner: str | None
    state: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"vm": self.vm, "owner": self.owner, "state": self.state}


@dataclass
class ActionRequest:
    """One disruptive action as the guard sees it before it starts."""

    action: str  # move | drain | resume | crash | power_on
    vms: list[VmPlace]
    nodes: list[str]
    to: str | None = None  # a move's destination; None: the cluster decides
    restoring: bool = False
    id: str = ""
    done: bool = field(default=False, repr=False)


_ids = itertools.count(1)


class ActionGuard:
    """Decides whether an action may start and records it; one action in flight per guard."""

    def __init__(
        self,
        cluster_name: str = "",
        refusal: Callable[[str], str | None] = lambda _vm: None,
        journal: Journal | None = None,
        lock: ClusterLock | None = None,
        stop: StopFlag | None = None,
        lease: Lease | None = None,
        max_moves: int | None = None,
        passive: bool = False,
    ) -> None:
        self.cluster_name = cluster_name
        # A passive audit (qmaudit run --passive): every action is refused, restores included.
        self.passive = passive
        self.refusal = refusal
        self.journal = journal
        self.lock = lock
        self.stop = stop or StopFlag()
        self.max_moves = max_moves  # None: no budget (qmaudit run --max-moves)
        self.moves = 0  # quick migrations (per VM) this guard started, restores included
        self.lease = lease  # None: the target needs none (a lab the run owns)
        self.open: ActionRequest | None = None
        # Actions started so far: a shared move is only as current as the last action.
        self.started = 0

    def before(self, request: ActionRequest) -> ActionRequest:
        """Let `request` start (lock held, journalled) or raise; the caller must call after()."""
        if self.passive:
            where = f" on {', '.join(request.nodes)}" if request.nodes else ""
            vms = ", ".join(p.vm for p in request.vms)
            raise PassiveRefusedError(
                f"passive audit: refused to {request.action}{where}"
                + (f" ({vms})" if vms else "")
                + ": a passive audit takes no disruptive action (nothing was changed)"
            )
        if self.stop.abandoned:
            raise RunInterruptedError("run abandoned after a second signal: no action started")
        if self.stop.stopping and not request.restoring:
            raise RunInterruptedError("run interrupted: no new action started")
        refused = [r for r in (self.refusal(p.vm) for p in request.vms) if r is not None]
        if refused:
            where = f" on {', '.join(request.nodes)}" if request.nodes else ""
            raise ActionRefusedError(
                f"refused to {request.action}{where}: "
                + "; ".join(refused)
                + " (nothing was changed)"
            )
        if self.lease is not None and not self.lease.held:
            raise RunInterruptedError(
                f"the run does not hold the lease of cluster {self.cluster_name!r}: "
                f"no {request.action} started"
            )
        if self.open is not None:
            # One action in flight per guard: a second one would share (and free) its lock.
            raise HarnessError(
                f"{request.action} requested while {self.open.action} {self.open.id} is in flight"
            )
        request.id = f"{os.getpid()}-{next(_ids)}"
        if self.lock is not None:
            self.lock.acquire()
        try:
            self._within_budget(request)
            if self.journal is not None:
                self.journal.write(
                    "action",
                    id=request.id,
                    action=request.action,
                    vms=[p.as_dict() for p in request.vms],
                    nodes=request.nodes,
                    to=request.to,
                    restoring=request.restoring,
                )
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        self.open = request
        self.started += 1
        if request.action == "move":
            self.moves += len(request.vms)
        return request

    def _within_budget(self, request: ActionRequest) -> None:
        """Refuse a quick migration that would exceed --max-moves; a restore is never refused.

        Counted from the journal when there is one (every pytest worker of the run writes to
        it, and the cluster lock, held here, orders them), else by this guard.
        """
        if self.max_moves is None or request.action != "move" or request.restoring:
            return
        if self.journal is not None:
            from harness.audit.journal import read_journal
            from harness.audit.tally import tally_journal

            done = tally_journal(read_journal(self.journal.path)).moves
        else:
            done = self.moves
        planned = done + len(request.vms)
        if planned > self.max_moves:
            vms = ", ".join(p.vm for p in request.vms)
            raise MoveBudgetError(
                f"refused to move {vms}: the run has made {done} move(s); this one would make "
                f"{planned}, over --max-moves {self.max_moves} (nothing was changed)"
            )

    def after(self, request: ActionRequest, ok: bool | None) -> None:
        """The action is over (settled, failed or abandoned): mark it done, release the lock."""
        if request.done or request is not self.open:
            return
        request.done = True
        self.open = None
        try:
            if self.journal is not None:
                self.journal.write("done", id=request.id, action=request.action, ok=ok)
        finally:
            if self.lock is not None:
                self.lock.release()

    def close_open(self, ok: bool | None) -> None:
        """Close an action still open (end of run after an error escaped its unit)."""
        if self.open is not None:
            self.after(self.open, ok)

    def close(self) -> None:
        """End of the run: release anything still held, close the journal."""
        self.close_open(None)
        if self.lease is not None:
            self.lease.release()
        if self.journal is not None:
            self.journal.close()

    def close_abandoned(self, action_id: str, detail: str) -> None:
        """Mark done an action a killed run left in flight (recover, once it has settled)."""
        if self.journal is not None:
            self.journal.write("done", id=action_id, ok=None, detail=detail)

    # ----- what the Restorer records ------------------------------------------------------
    def remember_vm(self, vm: str, owner: str, state: str | None) -> None:
        if self.journal is not None:
            # An original seen without the lease could be another run's mid-test placement.
            self.journal.write("remember", vm=vm, owner=owner, state=state, leased=self._leased())

    def _leased(self) -> bool:
        return self.lease is None or self.lease.held

    def remember_node(self, node: str, undo: str) -> None:
        if self.journal is not None:
            self.journal.write("remember", node=node, undo=undo)

    def restored(
        self, *, ok: bool, detail: str, vm: str | None = None, node: str | None = None
    ) -> None:
        if self.journal is not None:
            self.journal.write("restored", vm=vm, node=node, ok=ok, detail=detail)


def places(statuses: Sequence[dict[str, Any]]) -> list[VmPlace]:
    """VmPlaces from move_status entries."""
    return [VmPlace(s["vm"], s.get("owner_node"), s.get("vm_state")) for s in statuses]
