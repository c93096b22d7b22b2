"""The guard in the action path: refusals before anything moves, stop flag, lock held per move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.audit.cluster import Cluster
from harness.audit.guard import ActionGuard, ActionRefusedError, RunInterruptedError, StopFlag
from harness.audit.journal import Journal, read_journal
from harness.audit.lock import ClusterLock
from harness.audit.moves import settled
from harness.errors import HarnessError
from harness.targets.lab import open_lab
from harness.targets.registry import Target, VmPolicy

NEVER = "web 01"


@pytest.fixture
def lab() -> Iterator[Target]:
    target = open_lab(None, served=False, speed=200.0)
    yield target
    target.close()


def _cluster(target: Target, tmp_path: Path, stop: StopFlag | None = None) -> Cluster:
    policy = VmPolicy(allow=("*",), never=(NEVER,))
    guard = ActionGuard(
        "QMLAB",
        policy.refusal,
        Journal(tmp_path / "journal.jsonl"),
        ClusterLock("QMLAB", tmp_path / "locks"),
        stop,
    )
    return Cluster(target.driver, poll_interval_s=0.005, guard=guard)


def _truth(target: Target) -> dict[str, tuple[str, str]]:
    assert target.lab is not None
    with target.lab.session():
        return {v.spec.name: (v.owner, v.state) for v in target.lab.vms.values()}


def _owner(target: Target, vm: str) -> str:
    return _truth(target)[vm][0]


def _other(target: Target, node: str) -> str:
    assert target.lab is not None
    return next(n.name for n in target.lab.members() if n.name != node and n.state == "Up")


def test_never_touch_vm_is_refused_before_anything_moves(lab: Target, tmp_path: Path) -> None:
    cluster = _cluster(lab, tmp_path)
    before = _truth(lab)
    with (
        pytest.raises(ActionRefusedError, match="never-touch") as refused,
        cluster.moving([NEVER], _other(lab, before[NEVER][0])),
    ):
        pytest.fail("the block must not run")
    assert "nothing was changed" in refused.value.message
    assert _truth(lab) == before and lab.lab is not None and not lab.lab.ground_truth(NEVER)
    kinds = [e["kind"] for e in read_journal(tmp_path / "journal.jsonl")]
    assert "action" not in kinds


@pytest.mark.parametrize("action", ["draining", "crashing"])
def test_node_action_refused_when_any_vm_on_it_is_not_allowed(
    lab: Target, tmp_path: Path, action: str
) -> None:
    cluster = _cluster(lab, tmp_path)
    before = _truth(lab)
    node = before[NEVER][0]
    with pytest.raises(ActionRefusedError, match=NEVER), getattr(cluster, action)(node):
        pytest.fail("the block must not run")
    assert _truth(lab) == before
    assert lab.lab is not None and lab.lab.node(node).state == "Up"


def test_allowed_move_holds_the_lock_until_settled_and_is_journalled(
    lab: Target, tmp_path: Path
) -> None:
    cluster = _cluster(lab, tmp_path)
    vm = "batch01"
    source = _owner(lab, vm)
    to = _other(lab, source)
    with cluster.moving([vm], to) as move:
        assert cluster.guard.lock is not None and cluster.guard.lock.held
        cluster.watch(
            [vm],
            {},
            move.requested_utc,
            move.reply,
            lambda s: settled(s) and s["owner_node"] == to,
            60,
        )
        assert cluster.guard.lock.held  # the wait is inside the unit
    assert not cluster.guard.lock.held and _owner(lab, vm) == to
    entries = read_journal(tmp_path / "journal.jsonl")
    action = next(e for e in entries if e["kind"] == "action")
    assert action["vms"] == [{"vm": vm, "owner": source, "state": "Running"}]
    assert any(e["kind"] == "done" and e["id"] == action["id"] for e in entries)


def test_stopping_refuses_new_actions_but_allows_restoring(lab: Target, tmp_path: Path) -> None:
    stop = StopFlag()
    cluster = _cluster(lab, tmp_path, stop)
    vm = "batch01"
    to = _other(lab, _owner(lab, vm))
    stop.request(15)
    with (
        pytest.raises(RunInterruptedError, match="no new action started"),
        cluster.moving([vm], to),
    ):
        pytest.fail("the block must not run")
    assert lab.lab is not None and not lab.lab.ground_truth(vm)
    cluster.move_and_watch(
        [vm], to, lambda s: settled(s) and s["owner_node"] == to, 60, restoring=True
    )
    assert _owner(lab, vm) == to
    stop.request(15)  # second signal: not even restoring
    with pytest.raises(RunInterruptedError, match="abandoned"):
        cluster.move_and_watch([vm], _other(lab, to), settled, 60, restoring=True)


def test_disruptive_requests_only_run_inside_a_unit(lab: Target, tmp_path: Path) -> None:
    # A bare request would return at once and leave the lock to whoever waits next: refused.
    cluster = _cluster(lab, tmp_path)
    vm = "batch01"
    node = _owner(lab, vm)
    before = _truth(lab)
    for call in (
        lambda: cluster.request_move([vm], _other(lab, node)),
        lambda: cluster.drain(node),
        lambda: cluster.lab_crash(node),
    ):
        with pytest.raises(HarnessError, match="inside one guarded unit"):
            call()
    assert _truth(lab) == before
    assert cluster.guard.lock is not None and not cluster.guard.lock.held


def test_a_failed_wait_releases_the_lock(lab: Target, tmp_path: Path) -> None:
    cluster = _cluster(lab, tmp_path)
    vm = "batch01"
    to = _other(lab, _owner(lab, vm))
    with pytest.raises(RuntimeError, match="watch failed"), cluster.moving([vm], to):
        raise RuntimeError("watch failed")
    assert cluster.guard.lock is not None and not cluster.guard.lock.held
    entries = read_journal(tmp_path / "journal.jsonl")
    action = next(e for e in entries if e["kind"] == "action")
    assert any(
        e["kind"] == "done" and e["id"] == action["id"] and e["ok"] is False for e in entries
    )
    # Reads stay reads: a watch outside any unit changes nothing in the guard.
    cluster.watch([vm], {}, cluster.now(), {}, settled, 60)
    assert not cluster.guard.lock.held and cluster.guard.open is None
