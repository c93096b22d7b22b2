"""The simulated-time lab: a manual clock that the harness's polling advances."""

from __future__ import annotations

from harness.audit.cluster import Cluster
from harness.targets.registry import open_target


def test_sim_lab_target_advances_lab_time_when_sleeping() -> None:
    target = open_target("lab+sim")
    try:
        assert target.kind == "lab" and target.lab_actions and target.non_member_host == "HV-X"
        before = target.lab.clock.now()
        cluster = Cluster(target.driver, poll_interval_s=target.poll_interval_s, sleep=target.sleep)  # type: ignore[attr-defined]
        after = cluster.wait_target_seconds(45.0)
        # 45 lab seconds pass without waiting in real time, and the probes see the same clock.
        assert (target.lab.clock.now() - before).total_seconds() >= 45.0
        assert (after - before).total_seconds() >= 45.0
    finally:
        target.close()
