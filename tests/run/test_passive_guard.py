"""A passive audit's guard refuses every disruptive action before it starts: nothing journalled,
no lock taken, the lab unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.audit.cluster import Cluster
from harness.audit.guard import ActionGuard, ActionRequest, PassiveRefusedError, VmPlace
from harness.audit.journal import Journal, read_journal
from harness.audit.lock import ClusterLock
from harness.targets.lab import open_lab
from harness.targets.registry import Target


@pytest.fixture
def lab() -> Iterator[Target]:
    target = open_lab(None, served=False, speed=200.0)
    yield target
    target.close()


def _guard(tmp_path: Path) -> ActionGuard:
    return ActionGuard(
        "QMLAB",
        journal=Journal(tmp_path / "journal.jsonl"),
        lock=ClusterLock("QMLAB", tmp_path / "locks"),
        passive=True,
    )


@pytest.mark.parametrize("action", ["move", "drain", "resume", "crash", "power_on"])
@pytest.mark.parametrize("restoring", [False, True])
def test_every_action_is_refused_and_never_journalled(
    tmp_path: Path, action: str, restoring: bool
) -> None:
    guard = _guard(tmp_path)
    request = ActionRequest(action, [VmPlace("web 01", "HV-A", "Running")], ["HV-A"], "HV-B",
                            restoring=restoring)  # fmt: skip
    with pytest.raises(PassiveRefusedError, match="passive audit: refused to"):
        guard.before(request)
    assert guard.open is None and guard.started == 0
    guard.close()
    entries = (
        read_journal(tmp_path / "journal.jsonl") if (tmp_path / "journal.jsonl").exists() else []
    )
    assert [e for e in entries if e.get("kind") == "action"] == []


def test_a_move_through_the_facade_changes_nothing_on_the_lab(lab: Target, tmp_path: Path) -> None:
    cluster = Cluster(lab.driver, poll_interval_s=0.005, guard=_guard(tmp_path))
    before = {g.vm_name: g.owner_node for g in cluster.inventory().groups}
    with pytest.raises(PassiveRefusedError):
        cluster.move_and_watch(["web 01"], "HV-B", lambda _s: True, timeout_s=30)
    with pytest.raises(PassiveRefusedError), cluster.draining("HV-A"):
        pass
    assert {g.vm_name: g.owner_node for g in cluster.inventory().groups} == before
