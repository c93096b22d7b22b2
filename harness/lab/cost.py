"""WindowsCost: what running a probe costs on Windows, in real seconds, as the lab charges it.

Three costs, each from a public measurement or marked unverified in docs/windows-fidelity.md:

- process start: every WinRS command is a new powershell.exe (Windows PowerShell 5.1);
- module import: the first use of FailoverClusters or Hyper-V in a process or runspace;
- command: one probe pipeline inside a PowerShell that is already running (its modules loaded).

The costs are *real* wall time of the remote session, never lab time: a probe that takes 0.6 s
on Windows takes 0.6 s in the lab whatever the lab clock speed (`--lab-speed`), because the
client waits for it in real time. The lab sleeps them before it answers, so the answer shows the
state at the end of the wait, as a probe's cmdlets run after powershell.exe has started.

Who pays what (the two session models):

- ``process`` (WinRS, one powershell.exe per probe): start + every module the probe imports +
  one command;
- ``runspace`` (PSRP, one runspace per node): start + the modules imported when the runspace
  opens, once; then one command per probe, plus a module's import the first time a probe uses a
  module the runspace has not loaded yet.

Switching it on: a topology's ``windows_cost`` key (``true`` for the measured values, or a
mapping that overrides some), or the environment variable ``QM_LAB_WINDOWS_COST`` (``on``/``off``),
which wins over the topology so that a test or benchmark can switch any topology on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import InputError
from harness.probes.commands import modules_in

SessionModel = Literal["process", "runspace"]
ENV_VAR = "QM_LAB_WINDOWS_COST"
MODULES: tuple[str, ...] = ("FailoverClusters", "Hyper-V")
# Windows PowerShell 5.1 starting (-NoProfile) took about 600 ms (PowerShell/PowerShell#4239).
PROCESS_START_S = 0.6
# Loading each module on first use: no public figure found (unverified, see the ledger).
MODULE_IMPORT_S: Mapping[str, float] = {"FailoverClusters": 0.35, "Hyper-V": 0.45}
# One probe pipeline in a running PowerShell (CIM/cluster API queries): unverified estimate.
COMMAND_S = 0.03


@dataclass(frozen=True)
class WindowsCost:
    """Real seconds a probe costs on Windows; all zero (`OFF`) is the instant lab."""

    process_start_s: float = 0.0
    module_import_s: Mapping[str, float] = field(default_factory=dict)
    command_s: float = 0.0

    @classmethod
    def measured(cls) -> WindowsCost:
        """The figures of docs/windows-fidelity.md (process start, imports, command)."""
        return cls(PROCESS_START_S, dict(MODULE_IMPORT_S), COMMAND_S)

    @property
    def enabled(self) -> bool:
        """Whether any cost is charged at all."""
        return self.process_start_s > 0 or self.command_s > 0 or any(self.module_import_s.values())

    def import_s(self, modules: Iterable[str]) -> float:
        """Seconds to load these modules (names case-insensitive, unknown modules free)."""
        table = {k.lower(): v for k, v in self.module_import_s.items()}
        return sum(table.get(m.lower(), 0.0) for m in set(modules))

    def process_s(self, modules: Iterable[str]) -> float:
        """A probe as its own powershell.exe (WinRS): start, its imports and its command."""
        return self.process_start_s + self.import_s(modules) + self.command_s

    def describe(self) -> str:
        """One line for banners and benchmark headers."""
        if not self.enabled:
            return "off (the lab answers instantly)"
        imports = ", ".join(f"{k} {v * 1000:g} ms" for k, v in self.module_import_s.items())
        return (
            f"powershell.exe start {self.process_start_s * 1000:g} ms; import {imports or 'free'}; "
            f"command in a runspace {self.command_s * 1000:g} ms (real time)"
        )


OFF = WindowsCost()


def parse_cost(value: Any, source: str, where: str = "$.windows_cost") -> WindowsCost:
    """A topology's `windows_cost` value: true/false, or a mapping over the measured figures."""
    if value is None or value is False:
        return OFF
    if value is True:
        return WindowsCost.measured()
    if not isinstance(value, Mapping):
        raise InputError(source, where, "must be true, false or a mapping")
    base = WindowsCost.measured()
    imports = dict(base.module_import_s)
    given = value.get("module_import_ms", {})
    if not isinstance(given, Mapping):
        raise InputError(source, f"{where}.module_import_ms", "must map module names to ms")
    for name, ms in given.items():
        imports[str(name)] = _seconds(ms, source, f"{where}.module_import_ms.{name}")
    start = value.get("process_start_ms")
    command = value.get("command_ms")
    return WindowsCost(
        base.process_start_s
        if start is None
        else _seconds(start, source, f"{where}.process_start_ms"),
        imports,
        base.command_s if command is None else _seconds(command, source, f"{where}.command_ms"),
    )


def _seconds(ms: Any, source: str, where: str) -> float:
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms <= 600_000:
        raise InputError(source, where, f"must be a number of milliseconds 0..600000, not {ms!r}")
    return float(ms) / 1000


def resolve_cost(topology_cost: WindowsCost | None) -> WindowsCost:
    """The cost in force: QM_LAB_WINDOWS_COST (on/off) wins over the topology's own setting."""
    flag = os.environ.get(ENV_VAR, "").strip().lower()
    if flag in ("1", "on", "true", "yes"):
        if topology_cost is not None and topology_cost.enabled:
            return topology_cost
        return WindowsCost.measured()
    if flag in ("0", "off", "false", "no"):
        return OFF
    if flag:
        raise InputError(ENV_VAR, flag, "must be on or off")
    return topology_cost or OFF


class RunspaceCost:
    """One open PowerShell runspace: which modules it has loaded, what the next probe costs."""

    def __init__(self, cost: WindowsCost, preload: Iterable[str] = ()) -> None:
        self.cost = cost
        self.preload = tuple(preload)
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def open_s(self) -> float:
        """Opening the runspace: its process start and the modules it imports up front."""
        with self._lock:
            self._loaded |= {m.lower() for m in self.preload}
        return self.cost.process_start_s + self.cost.import_s(self.preload)

    def probe_s(self, modules: Iterable[str]) -> float:
        """One probe pipeline: a command, plus modules this runspace has not loaded yet."""
        wanted = {m.lower(): m for m in modules}
        with self._lock:
            new = [name for key, name in wanted.items() if key not in self._loaded]
            self._loaded |= set(wanted)
        return self.cost.command_s + self.cost.import_s(new)


class CostMeter:
    """Charges probe costs per node in one session model by sleeping real time."""

    def __init__(
        self,
        cost: WindowsCost,
        model: SessionModel = "runspace",
        *,
        preload: Iterable[str] = MODULES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cost = cost
        self.model = model
        self.preload = tuple(preload)
        self._sleep = sleep
        self._runspaces: dict[str, RunspaceCost] = {}
        self._lock = threading.Lock()

    def seconds(self, node: str, modules: Iterable[str]) -> float:
        """What the next probe on `node` costs (opening that node's runspace the first time)."""
        if not self.cost.enabled:
            return 0.0
        if self.model == "process":
            return self.cost.process_s(modules)
        with self._lock:
            runspace = self._runspaces.get(node.lower())
            opening = runspace is None
            if runspace is None:
                runspace = self._runspaces[node.lower()] = RunspaceCost(self.cost, self.preload)
        return (runspace.open_s() if opening else 0.0) + runspace.probe_s(modules)

    def charge(self, node: str, modules: Iterable[str]) -> float:
        """Sleep what the next probe on `node` costs; the seconds slept."""
        seconds = self.seconds(node, modules)
        if seconds > 0:
            self._sleep(seconds)
        return seconds


__all__ = [
    "ENV_VAR",
    "MODULES",
    "OFF",
    "CostMeter",
    "RunspaceCost",
    "SessionModel",
    "WindowsCost",
    "modules_in",
    "parse_cost",
    "resolve_cost",
]
