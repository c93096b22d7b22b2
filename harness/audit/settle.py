"""The settle window: every move is judged again once the cluster has had time to act on it.

A move is read right after it settles; a change that comes later (the role failing back, the
VM stopping, the heartbeat never returning, a value the cluster rewrites) would pass. So each
move the harness causes (scenario, setup, restore, leg, drain, recover) leaves a pending check:
after a quiet interval sized to the cluster's own timers (`window_s`) the VM is read again and
every invariant (harness/audit/invariants.py) is judged against the snapshot before the move,
with the owner the move ended on, plus: the heartbeat is back to an Ok value when it was Ok
before, and the guest answers where it answered before. The check runs before the next action
of the run (`Cluster.action`, `quick_migrate`) or at the scenario's end, whichever is first, so
the scenario's own reads overlap the window instead of adding to it. At the end of a restore
(`Restorer.restore`) every VM touched is read once more (`final`).

Only what is new is reported (a finding the move itself already showed is not repeated); a
change of owner or state is bracketed by two settled reads, a heartbeat or guest that is not
back is re-read for a second window before it counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.audit.assertions import InvariantBroken
from harness.audit.invariants import MoveCause, judge, violations
from harness.errors import HarnessError, ProbeFailedError, TransportError

if TYPE_CHECKING:
    from harness.audit.catalog import VmFacts
    from harness.audit.cluster import Cluster
    from harness.audit.moves import Snapshot

# Without readable timers: Windows Server 2019+ defaults (1 s heartbeats, 20 missed) = 20 s.
FALLBACK_WINDOW_S = 20.0
MIN_WINDOW_S = 5.0
MAX_WINDOW_S = 120.0


def window_s(cluster_doc: dict[str, Any]) -> float:
    """The quiet interval: the longest of the cluster's failure-detection timers.

    Node heartbeats (SameSubnetDelay x SameSubnetThreshold, CrossSubnet likewise) and the VM
    resource type's LooksAlivePollInterval: within that time the cluster notices what went wrong
    after a move and acts on it (docs/windows-fidelity.md, "Settle window").
    """
    t = cluster_doc.get("timers") or {}
    candidates = []
    for delay, threshold in (
        ("same_subnet_delay_ms", "same_subnet_threshold"),
        ("cross_subnet_delay_ms", "cross_subnet_threshold"),
    ):
        if t.get(delay) and t.get(threshold):
            candidates.append(float(t[delay]) * float(t[threshold]) / 1000.0)
    if t.get("vm_looks_alive_ms"):
        candidates.append(float(t["vm_looks_alive_ms"]) / 1000.0)
    if not candidates:
        return FALLBACK_WINDOW_S
    return min(MAX_WINDOW_S, max(MIN_WINDOW_S, max(candidates)))


def _ok(heartbeat: str | None) -> bool:
    return heartbeat is not None and heartbeat.lower().startswith("ok")


@dataclass
class Pending:
    """A move waiting for its settle check."""

    vm: VmFacts
    before: Snapshot
    after: Snapshot
    cause: MoveCause
    moving: tuple[str, ...] | None
    settled_utc: datetime
    reported: set[str] = field(default_factory=set)


@dataclass
class SettleWindow:
    """Pending settle checks of one run, and what they found (failure messages)."""

    cluster: Cluster
    pending: dict[str, Pending] = field(default_factory=dict)
    last: dict[str, Pending] = field(default_factory=dict)
    findings: list[InvariantBroken] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    _busy: bool = False

    def expect(
        self,
        vm: VmFacts,
        before: Snapshot,
        after: Snapshot,
        cause: MoveCause,
        moving: tuple[str, ...] | None,
        reported: set[str],
    ) -> None:
        """Note a settled move; its check is due one window after `after` was read."""
        p = Pending(vm, before, after, cause, moving, after.utc, set(reported))
        self.pending[vm.name] = p
        self.last[vm.name] = p

    def check_due(self) -> None:
        """Run every pending check, first letting the rest of its window pass."""
        if self._busy or not self.pending:
            return
        self._busy = True
        try:
            todo, self.pending = list(self.pending.values()), {}
            window = window_s(todo[0].after.inventory.raw.get("cluster", {}))
            due = max(p.settled_utc for p in todo) + timedelta(seconds=window)
            self._wait_until(due)
            for p in todo:
                self._check(p, f"{window:.0f} s after it settled", window)
        finally:
            self._busy = False

    def final(self) -> None:
        """The end of a restore: every VM touched is read once more against its last move."""
        self.check_due()
        if self._busy:
            return
        self._busy = True
        try:
            todo, self.last = list(self.last.values()), {}
            window = window_s(todo[0].after.inventory.raw.get("cluster", {})) if todo else 0.0
            for p in todo:
                # Other moves came since: what else changed is judged within each window only.
                p.moving = None
                self._check(p, "at the end of the run's restore", window)
        finally:
            self._busy = False

    def forget(self, names: list[str]) -> None:
        """An action that moves these VMs by design (a crash) ends what their moves expected."""
        for name in names:
            self.pending.pop(name, None)
            self.last.pop(name, None)

    def take(self) -> list[InvariantBroken]:
        """The failures found so far (each names its move and the claims it breaks)."""
        out, self.findings = self.findings, []
        return out

    def _wait_until(self, when: datetime) -> None:
        try:
            now = self.cluster.now()
            if now < when:
                self.cluster.wait_target_seconds((when - now).total_seconds())
        except (ProbeFailedError, TransportError):
            pass

    def _settled_now(self, vm: VmFacts, window: float) -> None:
        """Let a move still under way (something moved the VM again) finish first."""
        from harness.audit.moves import settled

        requested, statuses = self.cluster.move_status([vm.name])
        if not all(settled(s) for s in statuses):
            self.cluster.watch([vm.name], {}, requested, {}, settled, max(window * 10, 300.0))

    def _check(self, p: Pending, label: str, window: float) -> None:
        from harness.audit.moves import snapshot

        try:
            self._settled_now(p.vm, window)
            now = snapshot(self.cluster, p.vm)
            found = violations(p.vm.id, p.before, now, p.after.owner, p.moving)
            live = self._liveness(p, now)
            if live:
                # Not back yet: one more window before it counts.
                self._wait_until(now.utc + timedelta(seconds=window))
                now = snapshot(self.cluster, p.vm)
                found = violations(p.vm.id, p.before, now, p.after.owner, p.moving)
                live = self._liveness(p, now)
            found.update(live)
        except HarnessError as exc:
            self.checks.append({"vm": p.vm.name, "when": label, "not judged": exc.message})
            return
        new = {k: v for k, v in found.items() if k not in p.reported}
        p.reported |= set(new)
        self.checks.append(
            {"vm": p.vm.name, "when": label, "owner": now.owner, "new findings": sorted(new)}
        )
        if not new:
            return
        kind = "observed" if p.cause.kind == "scenario" else p.cause.kind
        detail = f"{p.cause.detail}; read again {label}".lstrip("; ")
        cause = MoveCause(kind, p.cause.scenario, detail)
        try:
            judge(p.vm.name, p.vm.id, p.before, now, p.after.owner, cause, new)
        except InvariantBroken as violation:
            self.findings.append(violation)

    def _liveness(self, p: Pending, now: Snapshot) -> dict[str, Any]:
        """Heartbeat back to Ok where it was Ok, guest answering where it answered."""
        found: dict[str, Any] = {}
        b, a, settled = p.before.details, now.details, p.after.details
        if b is None or a is None or a.state != "Running" or b.state != "Running":
            return found
        if _ok(b.heartbeat) and not _ok(a.heartbeat):
            found["heartbeat"] = {
                "before_move": b.heartbeat,
                "after_move": settled.heartbeat if settled else None,
                "now": a.heartbeat,
                "owner": now.owner,
                "read_utc": a.host_utc.isoformat(),
            }
        # PowerShell Direct failing alone may be the session's access, not the guest: it counts
        # only when the guest's own heartbeat agrees (not Ok either).
        if p.before.clock is not None and now.clock is None and not _ok(a.heartbeat):
            found["guest reachable"] = {
                "before_move": "answered",
                "now": "did not answer (PowerShell Direct), heartbeat not Ok either",
                "heartbeat": a.heartbeat,
                "owner": now.owner,
            }
        return found


def window(cluster: Cluster) -> SettleWindow:
    """The run's settle window (one per Cluster facade)."""
    found = getattr(cluster, "settle", None)
    if not isinstance(found, SettleWindow):
        found = SettleWindow(cluster)
        cluster.settle = found
    return found
