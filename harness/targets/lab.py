"""The embedded lab as a target (`lab[:FILE]` over WinRM, `lab+inproc[:FILE]` in-process)."""

from __future__ import annotations

import os
from typing import Any

from harness.domain.storage import Throughput
from harness.errors import InputError
from harness.targets.registry import DEFAULT_LAB_SPEED, Target, TargetSpec

SESSION_ENV = "QM_LAB_SESSION"


def lab_throughputs(topology: Any) -> tuple[Throughput, ...]:
    """The declared throughput of every storage root of a lab topology (harness/lab/topology.py)."""
    from harness.lab.topology import lab_throughputs as of_topology

    return of_topology(topology)


def _load_lab_topology(file: str | None) -> Any:
    from harness.lab.topology import load_default_topology, load_topology

    return load_topology(file) if file else load_default_topology()


def open_lab(file: str | None, *, served: bool, speed: float = DEFAULT_LAB_SPEED) -> Target:
    """Open the embedded lab: served over WinRM on loopback, or in-process."""
    from harness.lab.clock import ScaledClock, pacing_wanted
    from harness.lab.cost import CostMeter, resolve_cost
    from harness.lab.model import LabCluster

    topology = _load_lab_topology(file)
    cluster = LabCluster(topology, ScaledClock(speed=speed, paced=pacing_wanted()))
    # Windows' real-time probe costs when the topology or QM_LAB_WINDOWS_COST asks for them.
    cost = resolve_cost(topology.windows_cost)
    non_member = topology.non_members[0].name if topology.non_members else None
    # Poll often enough to see a few samples inside a save window at this speed.
    poll = max(0.005, min(0.5, 0.4 / speed))
    common: dict[str, Any] = {
        "kind": "lab",
        "lab": cluster,
        "lab_actions": True,
        "allow_destructive": True,
        "non_member_host": non_member,
        "throughputs": lab_throughputs(topology),
        "poll_interval_s": poll,
    }
    spec = ("lab" if served else "lab+inproc") + (f":{file}" if file else "")
    if not served:
        from harness.drivers.lab import LabDriver

        # In-process, probes cost what they cost in the harness's PowerShell runspace per node.
        meter = CostMeter(cost, "runspace") if cost.enabled else None
        inproc = LabDriver(cluster, meter=meter)
        return Target(spec=spec, driver=inproc, transport="in-process", **common)

    from harness.drivers.winrm import WinRMDriver
    from harness.lab.responder import LabResponder
    from harness.lab.serve import LabServer
    from harness.transport.endpoint import SESSIONS, Endpoint

    # How the harness reaches the served lab: PSRP runspaces (auto) or QM_LAB_SESSION=winrs,
    # a powershell.exe per probe (the before/after figures of benchmarks/README.md).
    session = os.environ.get(SESSION_ENV, "auto").strip().lower() or "auto"
    if session not in SESSIONS:
        raise InputError(SESSION_ENV, session, f"must be one of {', '.join(SESSIONS)}")
    server = LabServer(
        topology, speed=speed, responder=LabResponder(cluster), auth=("ntlm",), cost=cost
    )
    server.start()
    try:
        creds = server.credentials
        assert creds is not None
        endpoints = []
        for node, url in server.endpoints.items():
            port = int(url.split(":")[2].split("/")[0])
            endpoints.append(
                Endpoint(
                    node=node,
                    host="127.0.0.1",
                    port=port,
                    scheme="http",
                    transport="ntlm",
                    username=creds.qualified_username,
                    password=creds.password,
                    session=session,
                )
            )
        driver = WinRMDriver(endpoints)
    except BaseException:
        server.stop()
        raise
    target = Target(
        spec=spec,
        driver=driver,
        transport=(
            "WinRS (a powershell.exe per probe)"
            if session == "winrs"
            else "PowerShell remoting (PSRP)"
        )
        + " over WinRM HTTP, NTLM with message encryption",
        **common,
    )
    target.closers.append(server.stop)
    return target


def check_lab(spec: TargetSpec) -> None:
    """A lab spec is valid when its topology file (if any) is: InputError otherwise."""
    _load_lab_topology(spec.path)


def open_served_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab[:FILE]`: the lab served over WinRM on loopback."""
    return open_lab(spec.path, served=True, speed=lab_speed)


def open_inproc_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab+inproc[:FILE]`: the lab answered in-process."""
    return open_lab(spec.path, served=False, speed=lab_speed)
