"""The disruption budget of `qmaudit run`: checked on the plan before, and by the guard during."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from harness.errors import HarnessError, InputError

if TYPE_CHECKING:
    from harness.safety.tally import Tally
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
        return ["-p", "harness.safety.budget", f"{MAX_MOVES_OPTION}={self.max_moves}"]

    def overruns(self, tally: Tally) -> list[str]:
        """Why `tally` exceeds the budget, with the figures ([] when within)."""
        out = []
        if self.max_moves is not None and tally.moves > self.max_moves:
            out.append(
                f"{tally.moves} planned move(s) ({tally.restores} restoring) > --max-moves "
                f"{self.max_moves}"
            )
        if self.max_downtime_per_vm_s is not None:
            for vm in sorted(tally.vms.values(), key=lambda v: v.vm):
                if vm.downtime_s > self.max_downtime_per_vm_s:
                    out.append(
                        f"VM {vm.vm!r}: {vm.downtime_s:.1f} s planned downtime over "
                        f"{vm.outages} outage(s) > --max-downtime-per-vm "
                        f"{self.max_downtime_per_vm_s:g}"
                    )
                elif vm.unpriced_outages:
                    out.append(
                        f"VM {vm.vm!r}: {vm.unpriced_outages} outage(s) of unknown length: "
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
    from harness.safety.plan import compute_plan, refuse_unreachable, summary_line

    print("qmaudit: planning the selection on the target's twin (disruption budget)", flush=True)
    if refuse_unreachable(spec, "run"):
        return 2
    try:
        plan = compute_plan(spec, keyword, markers, lab_speed)
    except HarnessError as exc:
        print(f"qmaudit: cannot check the budget: {exc}; nothing was changed", file=sys.stderr)
        return 2
    overruns = budget.overruns(plan.tally)
    if overruns:
        for line in overruns:
            print(f"qmaudit: over budget: {line}", file=sys.stderr)
        print(
            f"qmaudit: refused: the plan exceeds the budget ({summary_line(plan.tally)}); "
            "nothing was changed (see `qmaudit plan`)",
            file=sys.stderr,
        )
        return 2
    print(f"qmaudit: within budget: {summary_line(plan.tally)}", flush=True)
    return None
