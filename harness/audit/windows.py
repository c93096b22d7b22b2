"""Judging a move's short windows (save, offline/online, heartbeat): seen, violated or too thin.

A poll that missed a window proves nothing. Each judge below says FAILED only on positive
evidence (a sample or an event that contradicts the claim) and BROKEN (ThinEvidenceError, with
the poll count and times) when neither polls nor events witnessed the window at all.
"""

from __future__ import annotations

from harness.audit.assertions import check, too_thin
from harness.audit.cluster import EVENT_SAVED, SAVE_STATES
from harness.audit.moves import MoveOutcome
from harness.audit.objects import ClusterEvent

# Cluster events of the role (FailoverClustering): offline completed, online began.
EVENT_OFFLINE_DONE = 1204
EVENT_ONLINE_BEGUN = 1200


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _saved_events(o: MoveOutcome) -> list[ClusterEvent]:
    return [e for e in o.events if e.id == EVENT_SAVED and e.role in (o.vm.name, o.vm.group)]


def saved_on_source(o: MoveOutcome) -> None:
    """QM-01: the VM was Saving/Saved while its source still owned it."""
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    online = o.role_events(EVENT_ONLINE_BEGUN, o.final_owner)
    saved_events = _saved_events(o)
    on_source = [
        e
        for e in saved_events
        if _same(e.node, o.source) and (not online or e.time <= online[0].time)
    ]
    if o.saw_state(SAVE_STATES, o.source) or on_source:
        return
    # Positive evidence of a violation: the save was seen, but somewhere other than the source
    # (the owner had already changed), by a poll or by the Hyper-V worker's own event.
    elsewhere = [
        (s.host_utc.isoformat(), s.owner_node, s.vm_state)
        for s in samples
        if s.vm_state in SAVE_STATES and not _same(s.owner_node, o.source)
    ]
    elsewhere_events = [
        (e.node, e.time.isoformat()) for e in saved_events if not _same(e.node, o.source)
    ]
    check(
        not elsewhere and not elsewhere_events,
        "a running VM must be put into Saved state on its source before ownership changes",
        source=o.source,
        saved_elsewhere=elsewhere,
        saved_events_elsewhere=elsewhere_events,
    )
    too_thin(
        f"no poll and no event saw {o.vm.name!r} saving, on {o.source} or anywhere",
        source=o.source,
        saved_events=[(e.node, e.time.isoformat()) for e in saved_events],
        **o.polls(),
    )


def offline_before_online(o: MoveOutcome) -> None:
    """QM-01: the role finished offline on the source before it began online on the target."""
    __tracebackhide__ = True
    offline_all = o.role_events(EVENT_OFFLINE_DONE)
    offline = [e for e in offline_all if _same(e.node, o.source)]
    online = o.role_events(EVENT_ONLINE_BEGUN, o.final_owner)
    elsewhere = [(e.node, e.time.isoformat()) for e in offline_all if not _same(e.node, o.source)]
    check(
        not elsewhere,
        "the role must go offline (1204) on its source, not on another node",
        source=o.source,
        offline_elsewhere=elsewhere,
    )
    if not offline or not online:
        too_thin(
            "the cluster log lacks the role's offline (1204) or online (1200) event",
            source=o.source,
            target=o.final_owner,
            offline=[e.time.isoformat() for e in offline],
            online=[e.time.isoformat() for e in online],
            events=len(o.events),
        )
    check(
        offline[0].time <= online[0].time,
        "the cluster must log the role offline (1204) on the source before online begins (1200) "
        "on the target",
        source=o.source,
        target=o.final_owner,
        offline=[e.time.isoformat() for e in offline],
        online=[e.time.isoformat() for e in online],
    )


def saved_files(o: MoveOutcome) -> list[str]:
    """QM-02: the saved-state files the source showed while the VM was saved (never empty).

    A Saving sample may come before the first byte is written; only a sample in which the save
    is over (Saved on the source) without any file is evidence that the files are missing.
    """
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    window = [s for s in samples if s.vm_state in SAVE_STATES and _same(s.owner_node, o.source)]
    files = sorted({f for s in window for f in s.saved_state_files})
    if files:
        return files
    complete = [s.host_utc.isoformat() for s in window if s.vm_state == "Saved"]
    check(
        not complete,
        "the source must show saved-state files once the VM is saved",
        source=o.source,
        saved_samples_without_files=complete,
    )
    too_thin(
        f"no poll of {o.source} saw {o.vm.name!r} after its save had begun writing",
        source=o.source,
        polls_in_window=len(window),
        **o.polls(),
    )


def heartbeat_lost(o: MoveOutcome) -> list[str | None]:
    """QM-10: no Ok* heartbeat while the VM is saved or restoring; returns the heartbeats seen."""
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    window = [s for s in samples if s.vm_state in SAVE_STATES | {"Resuming"}]
    if not window:
        too_thin(f"no poll fell inside {o.vm.name!r}'s save/restore window", **o.polls())
    beats = [s.heartbeat for s in window]
    # Get-VM's Heartbeat reads OkApplicationsHealthy/OkApplicationsUnknown/OkApplicationsCritical
    # while the guest answers: any Ok* value means the guest was reachable.
    check(
        not any(b is not None and b.lower().startswith("ok") for b in beats),
        "the guest must be unreachable (no heartbeat) while the VM is saved or restoring",
        heartbeats=beats,
    )
    return beats
