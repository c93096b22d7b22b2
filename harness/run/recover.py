"""`qmaudit recover [RUN]`: return every VM of an incomplete journal to its original owner.

Recover holds the cluster's run lease (`harness.run.lease`) like a run, so it never races a
live run of the same cluster, and judges each move it makes like every other move
(`harness.audit.invariants`, cause "recover"): a violation is printed and makes the exit code 1,
the VM is returned all the same.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from harness.audit import settle
from harness.audit.assertions import InvariantBroken
from harness.audit.catalog import Catalog, VmFacts
from harness.audit.cluster import Cluster
from harness.audit.guard import ActionGuard
from harness.audit.invariants import MoveCause, judge
from harness.audit.journal import JOURNAL_FILE, Journal, JournalState, load_state
from harness.audit.lock import ClusterLock
from harness.audit.moves import Snapshot, settled, snapshot
from harness.errors import HarnessError, InputError
from harness.run.lease import lease_timeout_from_env, run_lease

# The target kinds whose lab lives inside the run: nothing outlives it, nothing to recover.


def _embedded_lab(state: JournalState) -> bool:
    from harness.targets.registry import LAB_KINDS, parse_spec

    try:
        kind = parse_spec(str(state.header.get("target_spec", "")), check=False).kind
    except InputError:
        return False
    return state.header.get("target_kind") == "lab" and kind in LAB_KINDS


def find_run(run: str | None, reports_root: Path = Path("reports")) -> Path | None:
    """The run folder named by `run` (folder or run id), else the newest incomplete run."""
    if run:
        for folder in (Path(run), reports_root / run):
            if (folder / JOURNAL_FILE).is_file():
                return folder
        raise InputError("RUN", repr(run), f"no {JOURNAL_FILE} there or under {reports_root}/")
    journals = sorted(
        reports_root.glob(f"*/{JOURNAL_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for path in journals:
        state = load_state(path)
        if not state.complete and not _embedded_lab(state):
            return path.parent
    return None


def recover(run_dir: Path, out: TextIO = sys.stdout, lease_timeout_s: float | None = None) -> int:
    """Undo what the journal says is outstanding; print what was done per VM. Exit code.

    The cluster's run lease is taken first (ClusterBusyError, exit 2, while a run of the same
    cluster is alive; `lease_timeout_s` or QM_LEASE_TIMEOUT to wait for it).
    """
    path = run_dir / JOURNAL_FILE
    state = load_state(path)
    print(f"qmaudit recover: {path}", file=out)
    if state.complete:
        print("journal complete: every VM and node the run touched was restored", file=out)
        return 0
    spec = state.header.get("target_spec")
    if not spec:
        raise HarnessError(f"{path}: the journal has no header naming the target")
    if _embedded_lab(state):
        print(
            f"the run used the embedded lab ({spec}): it ended with the run, nothing to recover",
            file=out,
        )
        return 0
    timeout = lease_timeout_s if lease_timeout_s is not None else lease_timeout_from_env()
    # Its own lease id: sharing the interrupted run's id would share a lease that run still holds.
    with run_lease(str(spec), f"recover-{run_dir.name}-{os.getpid()}", timeout):
        return _recover(path, state, str(spec), run_dir.name, out)


def _recover(path: Path, state: JournalState, spec: str, run: str, out: TextIO) -> int:
    from harness.targets.registry import open_target

    target = open_target(spec)
    try:
        cluster = Cluster(target.driver, poll_interval_s=target.poll_interval_s)
        for node in state.nodes.values():
            if node.undo == "power_on":
                cluster.mark_down(node.name)  # crashed by the run: ask the others
        cluster_name = cluster.inventory().cluster
        if cluster_name.casefold() != str(state.header.get("cluster", "")).casefold():
            raise HarnessError(
                f"{spec} now answers as cluster {cluster_name!r}, the journal names "
                f"{state.header.get('cluster')!r}: refusing to act"
            )
        guard = ActionGuard(
            cluster_name, target.refusal, Journal(path, writer="recover"), ClusterLock(cluster_name)
        )
        cluster.guard = guard
        try:
            return _undo(cluster, state, target.thresholds.move_timeout_s, out, run)
        finally:
            guard.close()
    finally:
        target.close()


def _undo(
    cluster: Cluster, state: JournalState, timeout_s: float, out: TextIO, run: str = ""
) -> int:
    guard = cluster.guard
    failures = 0
    names = sorted(set(state.vms) | {p["vm"] for a in state.open_actions for p in a["vms"]})
    if names:
        print(f"waiting for {len(names)} VM(s) to settle", file=out)
        requested, _ = cluster.move_status(names)
        cluster.watch(names, {}, requested, {}, settled, timeout_s)
    for action in state.open_actions:
        guard.close_abandoned(str(action.get("id")), "left in flight by the run; settled")
        print(f"{action.get('action')} left in flight by the run: settled", file=out)
    for node in state.nodes.values():
        info = cluster.inventory().node(node.name)
        try:
            if node.undo == "power_on" and (info is None or info.state == "Down"):
                cluster.lab_power_on(node.name, restoring=True)
                what = "powered on"
            elif node.undo == "resume" and info is not None and info.state == "Paused":
                cluster.resume(node.name, restoring=True)
                what = "resumed"
            else:
                cluster.mark_down(node.name, False)
                what = f"already {info.state if info else 'unknown'}, nothing to do"
            guard.restored(node=node.name, ok=True, detail=what)
            print(f"node {node.name}: {what}", file=out)
        except HarnessError as exc:
            failures += 1
            guard.restored(node=node.name, ok=False, detail=exc.message)
            print(f"node {node.name}: FAILED: {exc.message}", file=out)
    for name in state.untrusted:
        print(
            f"VM {name}: original recorded without the cluster's lease: not trusted, left as is",
            file=out,
        )
    catalog = Catalog.read(cluster, lambda _name: True) if state.vms else None
    for vm in state.vms.values():
        failures += _return_vm(
            cluster, vm.name, vm.owner or "", vm.state, timeout_s, out, catalog, run
        )
    window = settle.window(cluster)
    try:
        window.final()
    except HarnessError as exc:
        print(f"qmaudit recover: settle checks not judged: {exc.message}", file=out)
    for finding in window.take():
        print(f"settle check: {str(finding).splitlines()[0]}", file=out)
        failures += 1
    verdict = "every VM is back as found" if not failures else f"{failures} problem(s) remain"
    print(f"qmaudit recover: {verdict}", file=out)
    return 0 if not failures else 1


def _return_vm(
    cluster: Cluster,
    name: str,
    owner: str,
    state: str | None,
    timeout_s: float,
    out: TextIO,
    catalog: Catalog | None = None,
    run: str = "",
) -> int:
    guard = cluster.guard
    broke = ""
    try:
        _, statuses = cluster.move_status([name])
        was = statuses[0]["owner_node"]
        if was.casefold() != owner.casefold():
            facts = next((v for v in catalog.vms if v.name == name), None) if catalog else None
            before, why = _snapshot(cluster, facts)
            cluster.move_and_watch(
                [name],
                owner,
                lambda s: settled(s) and s["owner_node"].casefold() == owner.casefold(),
                timeout_s,
                restoring=True,
            )
            moved = f"moved {was} -> {owner}"
            after, why_after = _snapshot(cluster, facts)
            if facts is None or before is None or after is None:
                broke = f"NOT JUDGED: {why or why_after}"
            else:
                broke = _judged(facts.name, facts.id, before, after, owner, run)
                # Read again after the settle window, once every VM is back (recover's end).
                cause = MoveCause("recover", run, f"{name} back to {owner}")
                settle.window(cluster).expect(facts, before, after, cause, None, set())
        else:
            moved = f"already on {owner}"
        _, statuses = cluster.move_status([name])
        now_state = statuses[0].get("vm_state")
    except HarnessError as exc:
        guard.restored(vm=name, ok=False, detail=exc.message)
        print(f"VM {name}: FAILED to return to {owner}: {exc.message}", file=out)
        return 1
    if broke:
        # Returned (the journal may close), yet the return broke what every move keeps or could
        # not be judged: the exit code says so.
        detail = f"{moved}; state {now_state}; {broke}"
        guard.restored(vm=name, ok=state is None or now_state == state, detail=detail)
        print(f"VM {name}: {detail}", file=out)
        return 1
    if state is not None and now_state != state:
        # Starting or saving a VM is beyond the probes qmaudit has: report it, never fake it.
        detail = f"{moved}; STATE DIFFERS: {now_state}, was {state} (set it back by hand)"
        guard.restored(vm=name, ok=False, detail=detail)
        print(f"VM {name}: {detail}", file=out)
        return 1
    detail = f"{moved}; state {now_state} as found"
    guard.restored(vm=name, ok=True, detail=detail)
    print(f"VM {name}: {detail}", file=out)
    return 0


def _snapshot(cluster: Cluster, facts: VmFacts | None) -> tuple[Snapshot | None, str]:
    """The VM's snapshot, or None and why not: judging never stops a VM from going back."""
    if facts is None:
        return None, "the cluster gave no details of the VM"
    try:
        return snapshot(cluster, facts), ""
    except HarnessError as exc:
        return None, f"its snapshot could not be read: {exc.message}"


def _judged(name: str, vm_id: str, before: Snapshot, after: Snapshot, owner: str, run: str) -> str:
    """Empty when the recover move kept every move invariant, else the violation's message."""
    cause = MoveCause("recover", run, f"{name} back to {owner}")
    try:
        judge(name, vm_id, before, after, owner, cause)
    except InvariantBroken as violation:
        return f"MOVE INVARIANTS BROKEN: {str(violation).splitlines()[0]}"
    return ""
