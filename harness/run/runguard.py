"""The run's guarded Cluster: journal, cluster lock, stop flag and move budget wired together."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.audit.cluster import Cluster
from harness.audit.guard import ActionGuard, StopFlag
from harness.audit.journal import JOURNAL_FILE, Journal
from harness.audit.lock import ClusterLock
from harness.run.lease import RunLease, lease_timeout_from_env


def _plugin(config: pytest.Config, kind: type[Any]) -> Any:
    """The registered plugin object of a type (the runner passes them to pytest.main)."""
    # list_name_plugin, not get_plugins: that builds a set, and dataclass plugins don't hash.
    for _name, plugin in config.pluginmanager.list_name_plugin():
        if isinstance(plugin, kind):
            return plugin
    return None


def recorded_spec(spec: str) -> str:
    """The target spec as `recover` must reopen it from another working folder."""
    from harness.targets.registry import parse_spec

    return parse_spec(spec, check=False).absolute().text


def guarded_cluster(
    config: pytest.Config, run: Any, sleep: Callable[[float], None] = time.sleep
) -> Cluster:
    """A Cluster whose every action passes the run's guard (journal, lock, lease, budget)."""
    target = run.target
    from harness.run.budget import max_moves_option
    from harness.run.interrupt import RunStop

    stop_plugin = _plugin(config, RunStop)
    stop: StopFlag = stop_plugin.flag if stop_plugin is not None else StopFlag()
    name = run.identity.cluster
    journal = Journal(
        run.run_dir / JOURNAL_FILE, writer=os.environ.get("PYTEST_XDIST_WORKER", "main")
    )
    journal.write(
        "header",
        run_id=run.run_id,
        target_spec=recorded_spec(target.spec),
        target_kind=target.kind,
        cluster=name,
        pid=os.getpid(),
    )
    lease = None
    if target.kind == "cluster":  # a real (or served) cluster other runs may also audit
        lease = RunLease(name, run.run_id)
        lease.acquire(lease_timeout_from_env())
        journal.write("lease", run_id=run.run_id, cluster=name, waited_s=lease.waited_s)
    guard = ActionGuard(
        name,
        target.refusal,
        journal,
        ClusterLock(name),
        stop,
        lease=lease,
        max_moves=max_moves_option(config),
        passive=bool(config.getoption("--qm-passive", default=False)),
    )
    cluster = Cluster(
        target.driver, poll_interval_s=target.poll_interval_s, sleep=sleep, guard=guard
    )
    return cluster
