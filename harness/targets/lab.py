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


def open_lab(
    file: str | None,
    *,
    served: bool,
    speed: float = DEFAULT_LAB_SPEED,
    https: bool = False,
    kerberos: bool = False,
) -> Target:
    """Open the embedded lab: served over WinRM on loopback, or in-process.

    Served, the wire's logon decides what a probe reaches (the second hop): by default CredSSP
    over HTTPS (a CA made for the run, verified), so SMB shares can be looked at; `https` alone
    is NTLM over HTTPS (shares refused, as Windows refuses them); `kerberos` starts an MIT KDC
    on loopback and authenticates with a delegated ticket from it, over HTTPS.
    """
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
    kind = "lab+kerberos" if kerberos else "lab+https" if https else "lab"
    spec = (kind if served else "lab+inproc") + (f":{file}" if file else "")
    if not served:
        from harness.drivers.lab import LabDriver

        # In-process, probes cost what they cost in the harness's PowerShell runspace per node.
        meter = CostMeter(cost, "runspace") if cost.enabled else None
        inproc = LabDriver(cluster, meter=meter)
        return Target(spec=spec, driver=inproc, transport="in-process", **common)

    from harness.drivers.winrm import WinRMDriver
    from harness.lab.kdc import LabKdc
    from harness.lab.responder import LabResponder
    from harness.lab.serve import LabServer
    from harness.transport.endpoint import SESSIONS, Endpoint

    # How the harness reaches the served lab: PSRP runspaces (auto) or QM_LAB_SESSION=winrs,
    # a powershell.exe per probe (the before/after figures of benchmarks/README.md).
    session = os.environ.get(SESSION_ENV, "auto").strip().lower() or "auto"
    if session not in SESSIONS:
        raise InputError(SESSION_ENV, session, f"must be one of {', '.join(SESSIONS)}")
    closers: list[Any] = []
    kdc = None
    transport = "ntlm" if https else "credssp"
    if kerberos:
        transport = "kerberos"
        kdc = LabKdc()
        closers.append(kdc.stop)
    https = True
    server = LabServer(
        topology,
        speed=speed,
        responder=LabResponder(cluster),
        auth=(transport,),
        https=https,
        kdc=kdc,
        cost=cost,
    )
    closers.insert(0, server.stop)
    try:
        if kdc is not None:
            kdc.start()
            # This process's Kerberos clients use the lab's realm (no other realm in a lab run).
            os.environ.update(kdc.env)
        server.start()
        creds = server.credentials
        assert creds is not None
        endpoints = []
        for node, listener in server.listeners.items():
            endpoints.append(
                Endpoint(
                    node=node,
                    host="127.0.0.1",
                    port=listener.port,
                    scheme=listener.scheme,
                    transport=transport,
                    username=server.kerberos_principal or creds.qualified_username,
                    password=creds.password,
                    ca_bundle=str(server.ca_path) if server.ca_path else None,
                    kerberos_hostname=server.service_host(node) if kerberos else None,
                    # The lab's audit account is trusted for delegation (second hop).
                    kerberos_delegation=kerberos,
                    session=session,
                )
            )
        driver = WinRMDriver(endpoints)
    except BaseException:
        for close in closers:
            close()
        raise
    auth = {"kerberos": "Kerberos (delegated ticket)", "ntlm": "NTLM", "credssp": "CredSSP"}
    how = (
        "WinRS (a powershell.exe per probe)" if session == "winrs" else "PowerShell remoting (PSRP)"
    )
    label = f"{how} over WinRM HTTPS (certificate verified), {auth[transport]}"
    target = Target(spec=spec, driver=driver, transport=label, **common)
    target.closers.extend(closers)
    return target


def check_lab(spec: TargetSpec) -> None:
    """A lab spec is valid when its topology file (if any) is: InputError otherwise."""
    _load_lab_topology(spec.path)


def open_served_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab[:FILE]`: the lab served over WinRM on loopback."""
    return open_lab(spec.path, served=True, speed=lab_speed)


def open_https_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab+https[:FILE]`: the lab served over HTTPS (a CA made for the run), NTLM."""
    return open_lab(spec.path, served=True, speed=lab_speed, https=True)


def open_kerberos_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab+kerberos[:FILE]`: the lab over HTTPS with Kerberos from an MIT KDC on loopback."""
    return open_lab(spec.path, served=True, speed=lab_speed, kerberos=True)


def open_inproc_lab(spec: TargetSpec, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """`lab+inproc[:FILE]`: the lab answered in-process."""
    return open_lab(spec.path, served=False, speed=lab_speed)
