"""The target registry: a spec parsed once into a TargetSpec, each kind opened by its module."""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import __version__
from harness.domain.storage import Throughput, throughput_for
from harness.domain.thresholds import Thresholds
from harness.drivers.base import Driver
from harness.errors import InputError

DEFAULT_LAB_SPEED = 20.0


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
        return throughput_for(self.throughputs, path)

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


@dataclass(frozen=True)
class TargetKind:
    """One kind of target: how its spec is written, checked and opened.

    `check` and `open` are "module:function" names imported on use, so a kind costs nothing
    until it is chosen (the lab server, WinRM) and adding a kind is one entry in KINDS.
    `check(spec) -> None` raises InputError; `open(spec, lab_speed) -> Target`.
    """

    name: str
    usage: str  # how the spec is written, for --help and error messages
    summary: str
    check: str
    open: str
    prefixed: bool = True  # False: the spec is a bare file name (the inventory)
    argument: str = "optional"  # "optional" | "required": the part after "<name>:"
    embedded_lab: bool = False  # the embedded lab (any transport): the one notion of "a lab"


# The order is the order of --help. A new kind is one more entry here (and its module).
KINDS: tuple[TargetKind, ...] = (
    TargetKind(
        "lab",
        "lab[:<topology.yaml>]",
        "the embedded lab, served over WinRM on loopback (default)",
        "harness.targets.lab:check_lab",
        "harness.targets.lab:open_served_lab",
        embedded_lab=True,
    ),
    TargetKind(
        "lab+https",
        "lab+https[:<topology.yaml>]",
        "the lab served over HTTPS (certificates from a CA made for the run), NTLM",
        "harness.targets.lab:check_lab",
        "harness.targets.lab:open_https_lab",
    ),
    TargetKind(
        "lab+kerberos",
        "lab+kerberos[:<topology.yaml>]",
        "the lab over HTTPS, Kerberos from an MIT KDC on loopback (krb5-kdc, qmaudit[kerberos])",
        "harness.targets.lab:check_lab",
        "harness.targets.lab:open_kerberos_lab",
    ),
    TargetKind(
        "lab+inproc",
        "lab+inproc[:<topology.yaml>]",
        "the same lab answered in-process",
        "harness.targets.lab:check_lab",
        "harness.targets.lab:open_inproc_lab",
        embedded_lab=True,
    ),
    TargetKind(
        "lab+sim",
        "lab+sim[:<topology.yaml>]",
        "the lab on simulated time (the self-test)",
        "harness.targets.lab:check_lab",
        "harness.targets.simlab:open_sim_target",
        embedded_lab=True,
    ),
    TargetKind(
        "twin",
        "twin:<folder>",
        "a target's twin written by qmaudit plan (topology + policy), on simulated time",
        "harness.targets.twin:check_twin",
        "harness.targets.twin:open_twin_target",
        argument="required",
    ),
    TargetKind(
        "replay",
        "replay:<capture folder>",
        "a capture of a cluster (qmaudit capture), answered offline; read probes only",
        "harness.targets.replay:check_replay_target",
        "harness.targets.replay:open_replay_target",
        argument="required",
    ),
    TargetKind(
        "inventory",
        "<inventory.yaml>",
        "a real cluster described by an inventory file (.yaml, .yml, .json)",
        "harness.targets.inventory:check_inventory_target",
        "harness.targets.inventory:open_inventory_target",
        prefixed=False,
        argument="required",
    ),
)

INVENTORY_SUFFIXES = frozenset({".yaml", ".yml", ".json"})

# The kinds that are the embedded lab: what "a lab target" means everywhere.
LAB_KINDS = frozenset(k.name for k in KINDS if k.embedded_lab)


def is_lab_spec(spec: str) -> bool:
    """Whether a target spec (as written) names the embedded lab."""
    return spec.strip().partition(":")[0] in LAB_KINDS


@dataclass(frozen=True)
class TargetSpec:
    """A target spec parsed once: its kind and the file or folder it names (if any)."""

    text: str  # as the user wrote it (stripped)
    kind: str
    path: str | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def target_kind(self) -> TargetKind:
        return kind_named(self.kind)

    @property
    def is_inventory(self) -> bool:
        return self.kind == "inventory"

    def absolute(self) -> TargetSpec:
        """The same spec with its path made absolute (to reopen it from another folder)."""
        if self.path is None:
            return self
        path = str(Path(self.path).resolve())
        text = path if not self.target_kind.prefixed else f"{self.kind}:{path}"
        return TargetSpec(text, self.kind, path)


def kind_named(name: str) -> TargetKind:
    """The registered kind called `name`."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def _function(ref: str) -> Callable[..., Any]:
    module, _, name = ref.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def spec_help() -> str:
    """Every target kind in one line each (for --help and errors)."""
    return "; ".join(f"{kind.usage}: {kind.summary}" for kind in KINDS)


def _unknown(text: str) -> InputError:
    usages = ", ".join(kind.usage for kind in KINDS)
    return InputError("--target", repr(text), f"unknown target: use {usages}")


def parse_spec(spec: str | TargetSpec, *, check: bool = True) -> TargetSpec:
    """Parse a target spec into a TargetSpec; with `check`, validate what it names (InputError).

    A known prefix always wins: `lab:my-lab.yaml` is a topology, never an inventory.
    """
    if isinstance(spec, TargetSpec):
        return spec
    text = spec.strip()
    parsed: TargetSpec | None = None
    # Longest name first, so `lab+sim:` is not read as `lab` with a strange file.
    for kind in sorted((k for k in KINDS if k.prefixed), key=lambda k: -len(k.name)):
        if text == kind.name and kind.argument != "required":
            parsed = TargetSpec(text, kind.name)
        elif text.startswith(kind.name + ":") and text[len(kind.name) + 1 :]:
            parsed = TargetSpec(text, kind.name, text[len(kind.name) + 1 :])
        if parsed is not None:
            break
    if parsed is None:
        bare = [k for k in KINDS if not k.prefixed]
        if bare and text and Path(text).suffix.lower() in INVENTORY_SUFFIXES:
            parsed = TargetSpec(text, bare[0].name, text)
    if parsed is None:
        raise _unknown(spec)
    if check:
        _function(parsed.target_kind.check)(parsed)
    return parsed


def open_target(spec: str | TargetSpec, *, lab_speed: float = DEFAULT_LAB_SPEED) -> Target:
    """Open the target named by `spec` (see README "Targets")."""
    parsed = parse_spec(spec, check=False)
    target: Target = _function(parsed.target_kind.open)(parsed, lab_speed)
    return target
