"""Judging a move's short windows (save, offline/online, heartbeat): seen, violated or too thin.

A poll that missed a window proves nothing. Each judge below says FAILED only on positive
evidence (a sample or an event that contradicts the claim) and BROKEN (ThinEvidenceError, with
the poll count and times) when neither polls nor events witnessed the window at all.
"""

from __future__ import annotations

from harness.audit.assertions import check, too_thin
from harness.audit.cluster import SAVE_STATES, SAVING_STATES
from harness.audit.moves import MoveOutcome
from harness.audit.savedstate import seen_files, written_files
from harness.domain.events import EventId

# Cluster events of the role (FailoverClustering/Operational): offline completed, online began.
EVENT_OFFLINE_DONE = int(EventId.ROLE_OFFLINE)
EVENT_ONLINE_BEGUN = int(EventId.ROLE_ONLINE_BEGIN)
EVENT_ROLE_MOVING = int(EventId.ROLE_MOVING)


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _same_node(a: str, b: str) -> bool:
    """One node, whether named short or fully qualified (hv-a, HV-A.corp.example)."""
    return _same(a.split(".", 1)[0], b.split(".", 1)[0])


def role_moving_agrees(o: MoveOutcome) -> dict[str, str | None] | None:
    """QM-01: the cluster's "role is moving" event (1641), when logged, names this move's
    source (three-property form) and the node the VM ended on; returns the event read.

    The event of this move is the one nearest to the request (the reply is stamped just after
    the cluster began the move). An absent 1641 is no violation: the order of the move is judged
    from 1204/1200, which a cluster logs for every role move.
    """
    __tracebackhide__ = True
    moving = o.role_events(EVENT_ROLE_MOVING)
    if not moving or o.trace is None:
        return None
    requested = o.trace.requested_utc
    event = min(moving, key=lambda e: abs((e.time - requested).total_seconds()))
    read = event.move
    seen: dict[str, str | None] = {"node": event.node, "time": event.time.isoformat()}
    seen |= {"event_source": read.source, "event_target": read.target}
    wrong_source = read.source is not None and not _same_node(read.source, o.source)
    check(
        not wrong_source and _same_node(read.target, o.final_owner),
        "the role-moving event (1641) must name the VM's original owner as the node it leaves "
        "and the node it ended on as its target",
        source=o.source,
        target=o.final_owner,
        **seen,
    )
    return {"source": read.source, "target": read.target}


def saved_on_source(o: MoveOutcome) -> list[str]:
    """QM-01: the VM was saved while its source still owned it; returns the witnesses seen.

    Witnesses: a poll caught Saving/Saved on the source; the source's saved-state files changed
    (Hyper-V keeps them while the VM runs, so presence proves nothing); or the source logged the
    role offline (1204) before the target began bringing it online (1200). A save seen under
    another owner is the violation; no witness at all is too thin to judge.
    """
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    # Instant rule: the state and the node it was seen on come from one Get-VM document
    # (state_node), never from the cluster's owner read at another instant. Only a save in
    # progress (Saving) on another node contradicts the claim: a VM restored on the target may
    # show Saved there before it resumes.
    elsewhere = [
        (s.state_utc.isoformat() if s.state_utc else None, s.state_node, s.vm_state)
        for s in samples
        if s.vm_state in SAVING_STATES and s.state_node and not s.state_on(o.source)
    ]
    on_source = any(s.vm_state in SAVE_STATES and s.state_on(o.source) for s in samples)
    check(
        on_source or not elsewhere,
        "a running VM must be put into Saved state on its source before ownership changes",
        source=o.source,
        saved_under_other_owner=elsewhere,
    )
    baseline = o.before.details.saved_state if o.before.details else None
    requested = o.trace.requested_utc if o.trace else None
    written = written_files(baseline, samples, o.source, requested)
    online = o.role_events(EVENT_ONLINE_BEGUN, o.final_owner)
    offline = [
        e
        for e in o.role_events(EVENT_OFFLINE_DONE, o.source)
        if not online or e.time <= online[0].time
    ]
    witnesses = (["Saving/Saved polled on the source"] if on_source else []) + [
        f"written on the source: {f.path}" for f in written
    ]
    witnesses += [f"role offline (1204) on the source at {e.time.isoformat()}" for e in offline]
    if not witnesses:
        too_thin(
            f"no poll, saved-state file change or offline event witnessed {o.vm.name!r} being "
            f"saved on {o.source}",
            source=o.source,
            **o.polls(),
        )
    return witnesses


def offline_before_online(o: MoveOutcome) -> None:
    """QM-01: the role finished offline on the source before it began online on the target,
    and the role-moving event (1641), when logged, names that source and that target."""
    __tracebackhide__ = True
    role_moving_agrees(o)
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
    """QM-02: the saved-state files the save wrote on the source (never empty).

    Hyper-V keeps saved-state files while a version 8.0+ VM runs, so only files that changed
    (size or write time) against the view before the move count. A Saving sample may come before
    the first byte is written; only a Saved sample on the source without any file is evidence
    that the files are missing. Files present but unchanged prove nothing either way.

    Instant rule: "Saved without files" must be one vm_details document of the source that
    found the VM Saved before *and* after it listed the files (state, state_after_files) and
    listed the folder without error. A state from another probe, or a listing not bracketed by
    Saved, is not evidence (the VM may have left the source between the two reads).
    """
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    window = [s for s in samples if s.vm_state in SAVE_STATES and s.state_on(o.source)]
    present = seen_files(samples, o.source)
    complete = [
        s.view_utc.isoformat()
        for s in samples
        if s.view_utc is not None
        and s.viewed_on(o.source)
        and s.view_state == "Saved"
        and s.view_state_after == "Saved"
        and s.view_listing == "listed"
        and not s.saved_state
    ]
    check(
        bool(present) or not complete,
        "the source must show saved-state files once the VM is saved",
        source=o.source,
        saved_samples_without_files=complete,
    )
    baseline = o.before.details.saved_state if o.before.details else None
    requested = o.trace.requested_utc if o.trace else None
    written = written_files(baseline, samples, o.source, requested)
    if written:
        return [f.path for f in written]
    before = {f.path: (f.bytes, f.last_write) for f in baseline or ()}
    denied = sorted(
        {s.view_utc.isoformat() for s in samples if s.view_listing == "denied" and s.view_utc}
    )
    if denied:
        too_thin(
            f"the source {o.source} refused this session the saved-state folder of "
            f"{o.vm.name!r} (a share without network credentials: the second hop); fix: CredSSP "
            "for the target, resource-based Kerberos constrained delegation to the file server, "
            "or an audit account with rights on the share",
            source=o.source,
            refused_at=denied,
        )
    too_thin(
        f"no saved-state file of {o.vm.name!r} was seen changing on {o.source}",
        source=o.source,
        polls_in_window=len(window),
        files_present=present,
        before=before,
        **o.polls(),
    )


def heartbeat_lost(o: MoveOutcome) -> list[str | None]:
    """QM-10: no Ok* heartbeat while the VM is saved or restoring; returns the heartbeats seen."""
    __tracebackhide__ = True
    samples = o.trace.samples_of(o.vm.name) if o.trace else []
    window = [s for s in samples if s.vm_state in SAVE_STATES | {"Resuming"}]
    if not window:
        too_thin(f"no poll fell inside {o.vm.name!r}'s save/restore window", **o.polls())
    # Instant rule: a heartbeat counts only with the state of the same Get-VM object (one
    # vm_details document); a state from move_status carries no heartbeat (None).
    beats = [s.heartbeat if s.view_state == s.vm_state else None for s in window]
    # Get-VM's Heartbeat reads OkApplicationsHealthy/OkApplicationsUnknown/OkApplicationsCritical
    # while the guest answers: any Ok* value means the guest was reachable.
    check(
        not any(b is not None and b.lower().startswith("ok") for b in beats),
        "the guest must be unreachable (no heartbeat) while the VM is saved or restoring",
        heartbeats=beats,
    )
    return beats
