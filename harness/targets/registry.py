"""Target specs (lab, lab:FILE, lab+inproc[:FILE], inventory file) opened as a Target."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import __version__
from harness.audit.storage import is_under
from harness.audit.thresholds import Thresholds
from harness.drivers.base import Driver
from harness.errors import InputError

DEFAULT_LAB_SPEED = 20.0


@dataclass(frozen=True)
class Throughput:
    """Declared throughput of a storage root, MB/s (10^6 bytes per second)."""

    root: str
    read_mb_s: float
    write_mb_s: float


def first_match(name: str, patterns: Sequence[str]) -> str | None:
    """The first pattern matching `name`; fnmatch, case-insensitive like Windows VM names."""
    folded = name.casefold()
    for pattern in patterns:
        if fnmatch.fnmatchcase(folded, pattern.casefold()):
            return pattern
    return None


@dataclass(frozen=True)
class VmPolicy:
    """Which VMs the audit may move (allow patterns) and which it must never touch."""

    allow: tuple[str, ...] = ()
    never: tuple[str, ...] = ()

    def refusal(self, vm_name: str) -> str | None:
        """Why `vm_name` must not be touched, or None when the audit may move it."""
        hit = first_match(vm_name, self.never)
        if hit is not None:
            return f"VM {vm_name!r} is on the inventory's never-touch list (vms.never: {hit!r})"
        if first_match(vm_name, self.allow) is None:
            return f"VM {vm_name!r} is not in the inventory's allowlist (vms.allow)"
        return None

    def allows(self, vm_name: str) -> bool:
        """True when the audit may move `vm_name`."""
        return self.refusal(vm_name) is None


@dataclass
class Target:
    """An opened target: the driver plus what the audit needs to know about it."""

    spec: str
    kind: str  # "lab" or "cluster"
    driver: Driver
    thresholds: Thresholds = field(default_factory=Thresholds)
    poll_interval_s: float = 1.0
    lab: Any | None = None  # harness.lab.model.LabCluster when kind == "lab"
    allow_destructive: bool = False
    non_member_host: str | None = None
    throughputs: tuple[Throughput, ...] = ()
    transport: str = "in-process"
    allow_vm: Callable[[str], bool] = lambda _name: True
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Lab-only actions (crash a node) are offered: the embedded lab, or an inventory that says so.
    lab_actions: bool = False
    # Names of the thresholds the target's configuration set (the rest are documented defaults).
    threshold_overrides: frozenset[str] = frozenset()
    vm_policy: VmPolicy | None = None
    guest_credentials: tuple[str, str] | None = field(default=None, repr=False)

    def refusal(self, vm_name: str) -> str | None:
        """Why the audit must not move or disturb `vm_name` on this target, or None if it may."""
        if self.vm_policy is not None:
            return self.vm_policy.refusal(vm_name)
        return None if self.allow_vm(vm_name) else f"VM {vm_name!r} is not allowed on this target"

    def threshold_source(self, name: str) -> str:
        """Where a threshold's value came from, for the evidence: inventory or default."""
        return "inventory" if name in self.threshold_overrides else "default"

    def guest_params(self) -> dict[str, str]:
        """PowerShell Direct credentials for the guest probes (empty for the lab)."""
        if self.guest_credentials is None:
            return {}
        user, password = self.guest_credentials
        return {"guest_user": user, "guest_password": password}

    def throughput_for(self, path: str) -> Throughput | None:
        """The declared throughput of the storage holding `path`, if the target declares it."""
        best: Throughput | None = None
        for candidate in self.throughputs:
            if is_under(path, candidate.root) and (
                best is None or len(candidate.root) > len(best.root)
            ):
                best = candidate
        return best

    def close(self) -> None:
        """Close the driver and stop anything the target started (lab server)."""
        try:
            self.driver.close()
        finally:
            for closer in reversed(self.closers):
                closer()
            self.closers.clear()

    @property
    def harness_version(self) -> str:
        return __version__


def lab_throughputs(topology: Any) -> tuple[Throughput, ...]:
    out = [Throughput(c.path, c.read_mb_s, c.write_mb_s) for c in topology.csvs]
    out += [Throughput(d.mount, d.read_mb_s, d.write_mb_s) for d in topology.cluster_disks]
    out += [Throughput(s.path, s.read_mb_s, s.write_mb_s) for s in topology.smb_shares]
    return tuple(out)


def _load_lab_topology(file: str | None) -> Any:
    from harness.lab.topology import load_default_topology, load_topology

    return load_topology(file) if file else load_default_topology()


def open_lab(file: str | None, *, served: bool, speed: float = DEFAULT_LAB_SPEED) -> Target:
    """Open the embedded lab: served over WinRM on loopback, or in-process."""
    from harness.lab.clock import ScaledClock
    from harness.lab.model import LabCluster

    topology = _load_lab_topology(file)
    cluster = LabCluster(topology, ScaledClock(speed=speed))
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

        return Target(spec=spec, driver=LabDriver(cluster), transport="in-process", **common)

    from harness.drivers.winrm import WinRMDriver
    from harness.lab.responder import LabResponder
    from harness.lab.serve import LabServer
    from harness.transport.endpoint import Endpoint

    server = LabServer(topology, speed=speed, responder=LabResponder(cluster), auth=("ntlm",))
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
                )
            )
        driver = WinRMDriver(endpoints)
    except BaseException:
        server.stop()
        raise
    target = Target(
        spec=spec,
        driver=driver,
        transport="WinRM over HTTP, NTLM with message encryption",
        **common,
    )
    target.closers.append(server.stop)
    return target


def is_inventory_spec(spec: str) -> bool:
    """True when the spec names an inventory file (.yaml, .yml or .json), not a lab topology."""
    text = spec.strip()
    # lab:<topology.yaml> ends in .yaml too: the lab prefix decides.
    if text.startswith(("lab:", "lab+sim", "lab+inproc")):
        return False
    return Path(text).suffix.lower() in {".yaml", ".yml", ".json"}


def check_spec(spec: str) -> None:
    """Validate a target spec (and its topology file) without opening anything: InputError."""
    text = spec.strip()
    for prefix in ("lab+sim", "lab+inproc", "lab"):
        if text == prefix:
            return
        if text.startswith(prefix + ":"):
            _load_lab_topology(text[len(prefix) + 1 :])
            return
    if is_inventory_spec(text):
        from harness.targets.inventory import check_inventory_spec

        check_inventory_spec(text)
        return
    raise InputError(
        "--target",
        repr(spec),
        "unknown target: use lab, lab:<topology.yaml>, lab+inproc[:<topology.yaml>] or an "
        "inventory file (.yaml)",
    )


def open_target(spec: str, *, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """Open the target named by `spec` (see README "Targets")."""
    text = spec.strip()
    if text == "lab" or text.startswith("lab:"):
        return open_lab(text[4:] or None, served=True, speed=lab_speed)
    if text == "lab+sim" or text.startswith("lab+sim:"):
        from harness.targets.simlab import open_sim_lab

        return open_sim_lab(text[8:] or None)
    if text == "lab+inproc" or text.startswith("lab+inproc:"):
        return open_lab(text[11:] or None, served=False, speed=lab_speed)
    if is_inventory_spec(text):
        from harness.targets.inventory import open_inventory

        return open_inventory(text)
    check_spec(text)
    raise AssertionError("unreachable: check_spec accepts only lab and inventory specs")
