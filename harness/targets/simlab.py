"""The simulated-time lab (`lab+sim[:FILE]`): in-process, on a manual clock polling advances."""

from __future__ import annotations

from harness.targets.lab import lab_throughputs
from harness.targets.registry import Target, TargetSpec

# Lab seconds one poll advances the clock by: fine enough to sample a save window of a small VM
# (the smallest lab save lasts well over a second) several times.
SIM_POLL_S = 0.2


def open_sim_lab(file: str | None) -> Target:
    """Open the embedded lab on a ManualClock; `target.sleep` advances it instead of waiting."""
    from harness.drivers.lab import LabDriver
    from harness.lab.clock import ManualClock
    from harness.lab.model import LabCluster
    from harness.lab.topology import load_default_topology, load_topology

    topology = load_topology(file) if file else load_default_topology()
    clock = ManualClock(topology.cluster.start_utc)
    cluster = LabCluster(topology, clock)
    target = Target(
        spec="lab+sim" + (f":{file}" if file else ""),
        kind="lab",
        driver=LabDriver(cluster),
        lab=cluster,
        lab_actions=True,
        allow_destructive=True,
        non_member_host=topology.non_members[0].name if topology.non_members else None,
        throughputs=lab_throughputs(topology),
        poll_interval_s=SIM_POLL_S,
        transport="in-process, simulated time",
    )
    # The plugin's Cluster facade sleeps through `target.sleep` when a target brings one.
    target.sleep = clock.advance  # type: ignore[attr-defined]
    return target


def open_sim_target(spec: TargetSpec, lab_speed: float = 0.0) -> Target:
    """`lab+sim[:FILE]`: the lab speed does not apply, polling advances the clock."""
    return open_sim_lab(spec.path)
