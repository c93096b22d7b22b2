"""`qmaudit plan`: what the selected scenarios would do, recorded instead of done."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.safety.guard import ActionRequest

if TYPE_CHECKING:
    from harness.targets.registry import TargetSpec

# Only the save/restore of memory costs time; an Off or Saved VM only changes owner.
NO_MEMORY_STATES = frozenset({"Off", "Saved"})
BEST_POSSIBLE_NODE = "cluster decides"


@dataclass
class PlanRow:
    """One VM (or node) one planned action would touch."""

    scenario: str
    action: str
    vm: str | None
    source: str | None
    to: str
    state: str | None
    memory_bytes: int | None
    downtime_s: float | None
    basis: str


@dataclass(eq=False)  # pluggy registers plugins in a set: identity hashing
class PlanRecorder:
    """A pytest plugin and the guard's planner: records the action, then skips the scenario."""

    rows: list[PlanRow] = field(default_factory=list)
    current: str = ""
    cluster: Any = None
    target: Any = None
    problems: list[str] = field(default_factory=list)
    _facts: dict[str, Any] | None = None
    _threshold: int | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A scenario refused or broken before its first action: the plan must say so.
        if report.failed:
            lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
            reason = lines[0][1:].strip() if lines else report.longreprtext.strip()[-300:]
            name = self.current or report.nodeid.split("::")[-1]
            self.problems.append(f"{name} ({report.when}): {reason}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from harness.suite.scenario import scenario_of

        found = scenario_of(item)
        self.current = found.title if found else item.nodeid.split("::")[-1]

    def bind(self, cluster: Any, target: Any) -> None:
        self.cluster, self.target = cluster, target

    def facts(self) -> dict[str, Any]:
        """Memory and path of every VM, read (read probes only) the first time a plan needs it."""
        if self._facts is None:
            from harness.audit.catalog import Catalog

            self._facts = {v.name: v for v in Catalog.read(self.cluster, lambda _n: True).vms}
        return self._facts

    def plan(self, request: ActionRequest) -> None:
        """Record `request`; stop the scenario before anything changes."""
        if request.restoring:
            return
        to = request.to or BEST_POSSIBLE_NODE
        if request.action == "crash":
            to = "fails over (cold start)"
        for place in request.vms:
            downtime, basis, memory = self.estimate(place.vm, place.state, request.action)
            self.rows.append(
                PlanRow(
                    self.current,
                    request.action,
                    place.vm,
                    place.owner,
                    to,
                    place.state,
                    memory,
                    downtime,
                    basis,
                )
            )
        if not request.vms:
            self.rows.append(
                PlanRow(
                    self.current,
                    request.action,
                    None,
                    ", ".join(request.nodes),
                    "-",
                    None,
                    None,
                    None,
                    "no VM on the node",
                )
            )
        what = f"{request.action} of {', '.join(p.vm for p in request.vms) or 'no VM'}"
        pytest.skip(f"planned: {what} -> {to} (plan mode: nothing was changed)")

    def _move_type_threshold(self) -> int:
        if self._threshold is None:
            self._threshold = self.cluster.inventory().move_type_threshold
        return self._threshold

    def estimate(
        self, vm: str, state: str | None, action: str
    ) -> tuple[float | None, str, int | None]:
        """Expected downtime: memory/write + memory/read of the VM's storage, else the threshold."""
        facts = self.facts().get(vm)
        memory = facts.memory_bytes if facts is not None else None
        if action == "crash":
            return None, "crash: cold start, not a save/restore", memory
        if state in NO_MEMORY_STATES:
            return 0.0, f"{state}: no memory to save", memory
        if facts is None:
            return None, "unknown VM", None
        if (
            action == "drain"
            and not facts.passthrough
            and facts.priority >= self._move_type_threshold()
        ):
            # A drain live-migrates VMs at or above MoveTypeThreshold (pass-through disks cannot
            # be live-migrated): no saved-state window.
            return 0.0, f"drain: priority {facts.priority} live-migrates", memory
        throughput = self.target.throughput_for(facts.path) if self.target is not None else None
        if throughput is not None:
            seconds = memory / (throughput.write_mb_s * 1e6) + memory / (throughput.read_mb_s * 1e6)
            return seconds, f"declared throughput of {throughput.root}", memory
        per_gib = self.target.thresholds.max_downtime_per_gib_s
        return per_gib * memory / 2**30, f"threshold {per_gib:g} s/GiB", memory

    def write(self, path: Path) -> None:
        path.write_text(
            json.dumps({"actions": [asdict(r) for r in self.rows]}, indent=2) + "\n",
            encoding="utf-8",
        )

    def table(self) -> str:
        head = ("scenario", "action", "VM", "from", "to", "state", "memory", "downtime")
        lines = [head]
        for r in self.rows:
            memory = f"{r.memory_bytes / 2**30:.1f} GiB" if r.memory_bytes is not None else "-"
            downtime = f"~{r.downtime_s:.0f} s" if r.downtime_s is not None else "-"
            lines.append(
                (
                    r.scenario,
                    r.action,
                    r.vm or "-",
                    r.source or "-",
                    r.to,
                    r.state or "-",
                    memory,
                    downtime,
                )
            )
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in lines
        )


def _unreachable(spec: str | TargetSpec) -> list[Any]:
    """The unreachable nodes of an inventory target ([] for lab targets)."""
    from harness.targets.registry import parse_spec

    parsed = parse_spec(spec, check=False)
    if not parsed.is_inventory:
        return []
    from harness.targets.inventory import load_inventory
    from harness.targets.reach import unreachable_nodes

    return list(unreachable_nodes(load_inventory(str(parsed.path))))


def run_plan(
    target: str | TargetSpec,
    keyword: str | None = None,
    markers: str | None = None,
    lab_speed: float = 20.0,
    reports_root: Path = Path("reports"),
) -> int:
    """Run the selected scenarios in plan mode; print the table, write plan.json. Exit code."""
    from harness.evidence.records import new_run_id
    from harness.suite.plugin import ChosenTarget
    from harness.suite.runner import suite_args
    from harness.targets.registry import parse_spec

    spec = parse_spec(target)
    unreachable = _unreachable(spec)
    if unreachable:
        # Every scenario would only fail to connect: say which nodes, in seconds, not minutes.
        for node in unreachable:
            print(
                f"qmaudit plan: node {node.node} unreachable at {node.address}: {node.reason}",
                file=sys.stderr,
            )
        print(
            f"qmaudit plan: cannot plan: {len(unreachable)} node(s) unreachable; nothing was run",
            file=sys.stderr,
        )
        return 1
    run_id = new_run_id()
    run_dir = reports_root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    args = suite_args(spec, lab_speed, run_dir, run_id, keyword, markers)
    print(
        f"qmaudit plan {run_id} against target {spec.text!r}: nothing will be changed", flush=True
    )
    recorder = PlanRecorder()
    rc = pytest.main(args, plugins=[recorder, ChosenTarget(spec)])
    if rc in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        return 2
    recorder.write(run_dir / "plan.json")
    print(recorder.table() if recorder.rows else "no disruptive action would be taken")
    total = sum(r.downtime_s or 0.0 for r in recorder.rows)
    print(f"\nqmaudit plan: {len(recorder.rows)} VM action(s), expected downtime ~{total:.0f} s")
    for problem in recorder.problems:
        print(f"qmaudit plan: would not run: {problem}", file=sys.stderr)
    print(f"qmaudit plan: {run_dir / 'plan.json'}")
    return 1 if recorder.problems or rc == pytest.ExitCode.INTERRUPTED else 0
