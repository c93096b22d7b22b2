"""The disruption budget of `qmaudit run`: checked on the plan before, and by the guard during."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import InputError
from harness.exits import command_name

if TYPE_CHECKING:
    from harness.targets.registry import TargetSpec

MAX_MOVES_OPTION = "--qm-max-moves"


@dataclass(frozen=True)
class Budget:
    """--max-moves (quick migrations per VM, restores included) and --max-downtime-per-vm."""

    max_moves: int | None = None
    max_downtime_per_vm_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_moves is not None and self.max_moves < 0:
            raise InputError("--max-moves", repr(self.max_moves), "must be 0 or more")
        if self.max_downtime_per_vm_s is not None and not self.max_downtime_per_vm_s >= 0:
            raise InputError(
                "--max-downtime-per-vm", repr(self.max_downtime_per_vm_s), "must be 0 or more"
            )

    @property
    def given(self) -> bool:
        return self.max_moves is not None or self.max_downtime_per_vm_s is not None

    def pytest_args(self) -> list[str]:
        """The pytest arguments giving the guard its runtime backstop (xdist workers too)."""
        if self.max_moves is None:
            return []
        return ["-p", "harness.run.budget", f"{MAX_MOVES_OPTION}={self.max_moves}"]

    def overruns(self, plan: dict[str, Any]) -> list[str]:
        """Why a plan (plan.json's document) exceeds the budget, with the figures ([]: within)."""
        out = []
        summary = plan["summary"]
        if self.max_moves is not None and summary["moves"] > self.max_moves:
            out.append(
                f"{summary['moves']} planned move(s) ({summary['restores']} restoring) > "
                f"--max-moves {self.max_moves}"
            )
        if self.max_downtime_per_vm_s is not None:
            for vm in plan["vms"]:
                if vm["downtime_s"] > self.max_downtime_per_vm_s:
                    out.append(
                        f"VM {vm['vm']!r}: {vm['downtime_s']:.1f} s planned downtime over "
                        f"{vm['outages']} outage(s) > --max-downtime-per-vm "
                        f"{self.max_downtime_per_vm_s:g}"
                    )
                elif vm["unpriced_outages"]:
                    out.append(
                        f"VM {vm['vm']!r}: {vm['unpriced_outages']} outage(s) of unknown length: "
                        f"cannot show it stays within --max-downtime-per-vm "
                        f"{self.max_downtime_per_vm_s:g}"
                    )
        return out


def pytest_addoption(parser: pytest.Parser) -> None:
    """The run's move budget, for the guard (registered only when a budget is given)."""
    parser.getgroup("qmaudit").addoption(
        MAX_MOVES_OPTION, type=int, default=None, help="refuse a move past N moves in the run"
    )


def max_moves_option(config: pytest.Config) -> int | None:
    """The --max-moves of the run, if `qmaudit run` gave one."""
    value = config.getoption(MAX_MOVES_OPTION, default=None)
    return int(value) if value is not None else None


def plan_in_subprocess(
    spec: TargetSpec, keyword: str | None, markers: str | None, lab_speed: float
) -> tuple[dict[str, Any] | None, list[str]]:
    """`qmaudit plan` of the selection in a process of its own: plan.json's document (None if
    none was written) and what the plan said on stderr.

    Its own process, so nothing of the twin's session (observations, stashes, environment)
    can reach the real run that follows in this one.
    """
    with tempfile.TemporaryDirectory(prefix="qmaudit-budget-") as tmp:
        cmd = [sys.executable, "-m", "harness.cli", "plan", "--target", spec.text]
        cmd += ["-k", keyword] if keyword else []
        cmd += ["-m", markers] if markers else []
        cmd += ["--lab-speed", str(lab_speed), "--reports", tmp]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        said = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        found = sorted(Path(tmp).glob("*/plan.json"))
        if not found:
            return None, said or [f"qmaudit plan exited {proc.returncode} without a plan"]
        doc: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
        return doc, said


def enforce_budget(
    spec: TargetSpec,
    budget: Budget,
    keyword: str | None,
    markers: str | None,
    lab_speed: float,
) -> int | None:
    """Plan the selection and hold it to the budget before anything moves.

    None: no budget, or the plan is within it. 2: over budget, or the plan could not be made
    (a budget that cannot be checked is not met); the message names the figures.
    """
    if not budget.given:
        return None
    print("qmaudit: planning the selection on the target's twin (disruption budget)", flush=True)
    plan, said = plan_in_subprocess(spec, keyword, markers, lab_speed)
    if plan is None:
        for line in said:
            print(f"qmaudit: plan: {line}", file=sys.stderr)
        print(
            "qmaudit: cannot check the budget without a plan; nothing was changed", file=sys.stderr
        )
        return 2
    for problem in plan["problems"]:
        print(f"qmaudit: plan: on the twin: {problem}", file=sys.stderr)
    totals = plan_totals(plan["summary"])
    overruns = budget.overruns(plan)
    if overruns:
        for line in overruns:
            print(f"qmaudit: over budget: {line}", file=sys.stderr)
        print(
            f"qmaudit: refused: the plan exceeds the budget ({totals}); "
            "nothing was changed (see `" + command_name() + " plan`)",
            file=sys.stderr,
        )
        return 2
    print(f"qmaudit: within budget: {totals}", flush=True)
    return None


def plan_totals(summary: dict[str, Any]) -> str:
    """A plan's summary in one line (plan.json's `summary`)."""
    return (
        f"{summary['moves']} move(s) ({summary['restores']} restoring), "
        f"{summary['drains']} drain(s), {summary['crashes']} crash(es), "
        f"{summary['vms_touched']} VM(s) touched, {summary['outages']} outage(s), at most "
        f"{summary['max_outages_per_vm']} per VM, expected downtime "
        f"{summary['downtime_s']:.1f} s in all"
    )
