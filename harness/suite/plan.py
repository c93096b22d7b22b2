"""`qmaudit plan`: the suite run on the target's twin, every journalled action shown and priced."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.audit.guard import ActionGuard, ActionRequest
from harness.audit.journal import JOURNAL_FILE, read_journal
from harness.audit.lock import LOCK_DIR_ENV
from harness.audit.tally import NO_MEMORY_STATES, Cost, Disruption, Tally, tally_journal
from harness.domain.storage import Throughput, expected_downtime_s, throughput_for
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.run.budget import Budget
    from harness.targets.registry import Target, TargetSpec
    from harness.targets.twin import Twin

BEST_POSSIBLE_NODE = "best possible node"
AFTER_RUN = "(end of run)"


class ReadOnlyGuard(ActionGuard):
    """The plan reads the real target: any action reaching it is a harness error, not a change."""

    def before(self, request: ActionRequest) -> ActionRequest:
        raise HarnessError(f"plan: the real target is only read; a {request.action} was refused")


@dataclass(eq=False)  # pluggy registers plugins in a set: identity hashing
class ScenarioMarks:
    """A pytest plugin noting, as each scenario starts, how long the twin's journal is.

    Every journal entry from a mark to the next belongs to that scenario (its restores
    included), so actions are attributed without the journal knowing scenarios. What the last
    scenario's teardown returns (VMs earlier scenarios left away) is the run's, not its own.
    """

    journal: Path
    marks: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _current: str = ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from harness.suite.scenario import scenario_of

        found = scenario_of(item)
        self._current = found.title if found else item.nodeid.split("::")[-1]
        count = len(read_journal(self.journal)) if self.journal.is_file() else 0
        self.marks.append((count, self._current))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The last scenario's teardown returns the VMs earlier scenarios left away: the run's.
        if nextitem is None:
            count = len(read_journal(self.journal)) if self.journal.is_file() else 0
            self.marks.append((count, AFTER_RUN))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Whatever the run journals after its last scenario (VMs returned at session end).
        count = len(read_journal(self.journal)) if self.journal.is_file() else 0
        self.marks.append((count, AFTER_RUN))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and report.when in ("setup", "call"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self.skipped.append(f"{self._current}: {str(reason).removeprefix('Skipped: ')}")
        elif report.failed:
            lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
            reason = lines[0][1:].strip() if lines else report.longreprtext.strip()[-300:]
            self.problems.append(f"{self._current} ({report.when}): {reason}")

    def scenario_of(self, index: int) -> str:
        """The scenario during which journal entry `index` was written."""
        name = AFTER_RUN
        for start, title in sorted(self.marks, key=lambda m: m[0]):
            if start > index:
                break
            name = title
        return name


@dataclass
class Pricer:
    """Prices each VM of each action from the twin's facts (the tally's Estimator)."""

    twin: dict[str, Any]
    failover_timeout_s: float

    def __post_init__(self) -> None:
        doc = self.twin
        storage = doc.get("storage") or {}
        self.threshold = int(doc["cluster"].get("move_type_threshold", 2000))
        # The twin's storage as throughput tables (one shared, one per node for local disks),
        # read with the one lookup of every table (harness/domain/storage.py).
        self.shared = [
            Throughput(str(entry[key]), float(entry["read_mb_s"]), float(entry["write_mb_s"]))
            for kind, key in (("csvs", "path"), ("cluster_disks", "mount"), ("smb_shares", "path"))
            for entry in storage.get(kind) or []
        ]
        self.vms = {v["name"]: v for v in doc["vms"]}
        self.local = {
            str(n["name"]): [
                Throughput(str(d["path"]), float(d["read_mb_s"]), float(d["write_mb_s"]))
                for d in n.get("local_disks") or []
            ]
            for n in doc["nodes"]
        }

    def memory_bytes(self, vm: str) -> int | None:
        spec = self.vms.get(vm)
        return int(spec["memory_mib"]) * 2**20 if spec is not None else None

    def __call__(self, action: str, vm: str, state: str | None) -> Cost:
        spec = self.vms.get(vm)
        if state in NO_MEMORY_STATES:
            return Cost(False, 0.0, f"{state}: no memory to save")
        if spec is None:
            return Cost(True, None, "VM not in the twin")
        if action == "crash":
            # The VM restarts from a cold boot elsewhere; QM-19 allows it failover_timeout_s.
            return Cost(True, self.failover_timeout_s, "cold boot (failover_timeout_s bound)")
        passthrough = bool(spec.get("passthrough_disk"))
        priority = int(spec.get("priority", 2000))
        if action == "drain" and not passthrough and priority >= self.threshold:
            # A drain live-migrates roles at or above MoveTypeThreshold (docs/windows-fidelity.md);
            # pass-through disks cannot be live-migrated.
            return Cost(False, 0.0, f"drain live-migrates (priority {priority})")
        root = str(spec["storage"])
        declared = throughput_for(self.shared, root) or throughput_for(
            self.local.get(str(spec["owner"]), []), root
        )
        if declared is None:
            return Cost(True, None, f"no throughput for {root}")
        memory = int(spec["memory_mib"]) * 2**20
        seconds = expected_downtime_s(memory, declared, per_gib_bound_s=0.0)
        write, read = declared.write_mb_s, declared.read_mb_s
        return Cost(True, seconds, f"memory/{write:g} + memory/{read:g} MB/s")


@dataclass
class Plan:
    """The schedule the selected scenarios would run, priced, and what the twin rests on."""

    target: str
    twin: Twin
    tally: Tally
    scenarios: list[str]  # per disruption, the scenario it was attributed to
    memory: dict[str, int | None]
    skipped: list[str]
    problems: list[str]
    twin_journal: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        doc = self.tally.as_dict()
        for row, scenario in zip(doc["actions"], self.scenarios, strict=True):
            row["scenario"] = scenario
            row["memory_bytes"] = self.memory.get(row["vm"]) if row["vm"] else None
        return {
            "target": self.target,
            "twin": {"assumptions": self.twin.assumptions, "policy": asdict(self.twin.policy)},
            **doc,
            "skipped": self.skipped,
            "problems": self.problems,
        }


@contextmanager
def _private_lock_dir(folder: Path) -> Iterator[None]:
    """The twin's actions lock a folder of their own: never wait on a real run's cluster lock."""
    old = os.environ.get(LOCK_DIR_ENV)
    os.environ[LOCK_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(LOCK_DIR_ENV, None)
        else:
            os.environ[LOCK_DIR_ENV] = old


def build_twin(spec: TargetSpec, lab_speed: float = 20.0) -> Twin:
    """The twin of a target: a lab's own topology, else built from the target's read probes."""
    from harness.audit.cluster import Cluster
    from harness.targets.registry import LAB_KINDS, open_target
    from harness.targets.twin import lab_twin, twin_of

    if spec.kind in LAB_KINDS:
        return lab_twin(spec)
    target: Target = open_target(spec, lab_speed=lab_speed)
    try:
        cluster = Cluster(
            target.driver, poll_interval_s=target.poll_interval_s, guard=ReadOnlyGuard()
        )
        return twin_of(cluster, target)
    finally:
        target.close()


def compute_plan(
    target: str | TargetSpec,
    keyword: str | None = None,
    markers: str | None = None,
    lab_speed: float = 20.0,
    keep: Path | None = None,
    passive: bool = False,
    since: str | None = None,
) -> Plan:
    """Run the selected scenarios on the target's twin (simulated time) and tally its journal.

    The twin run lives in a temporary folder; with `keep`, its topology, policy and journal are
    copied there for the record. Raises HarnessError if the twin cannot be built or run.
    """
    from harness.evidence.records import new_run_id
    from harness.suite.context import ChosenTarget
    from harness.suite.runner import suite_args
    from harness.targets.registry import parse_spec

    spec = parse_spec(target)
    twin = build_twin(spec, lab_speed)
    with tempfile.TemporaryDirectory(prefix="qmaudit-twin-") as tmp:
        folder = Path(tmp)
        twin_spec = twin.write(folder / "twin")
        run_dir = folder / "run"
        marks = ScenarioMarks(run_dir / JOURNAL_FILE)
        args = suite_args(
            twin_spec,
            lab_speed,
            run_dir,
            new_run_id(),
            keyword,
            markers,
            passive=passive,
            since=since,
        )
        with _private_lock_dir(folder / "locks"):
            rc = pytest.main(args, plugins=[marks, ChosenTarget(twin_spec)])
        if rc in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            raise HarnessError(f"the run on the twin could not start (pytest exit code {int(rc)})")
        journal_path = run_dir / JOURNAL_FILE
        entries = read_journal(journal_path) if journal_path.is_file() else []
        if keep is not None:
            twin.write(keep / "twin")
            (keep / "twin" / JOURNAL_FILE).write_bytes(
                journal_path.read_bytes() if journal_path.is_file() else b""
            )
    pricer = Pricer(twin.document, float(twin.policy.thresholds["failover_timeout_s"]))
    tally = tally_journal(entries, pricer)
    return Plan(
        target=spec.text,
        twin=twin,
        tally=tally,
        scenarios=[marks.scenario_of(d.index) for d in tally.disruptions],
        memory={v: pricer.memory_bytes(v) for v in pricer.vms},
        skipped=marks.skipped,
        problems=marks.problems,
        twin_journal=entries,
    )


def _to(d: Disruption) -> str:
    if d.vm is None:
        return d.to or "-"
    if d.to:
        return d.to
    chosen = f" ({d.landed})" if d.landed else ""
    if d.action == "crash":
        return "fails over" + chosen
    return (BEST_POSSIBLE_NODE if d.action == "move" else "cluster decides") + chosen


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def _grid(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def schedule_table(plan: Plan) -> str:
    """Every journalled action of the twin run, in order, one VM a line."""
    rows: list[tuple[str, ...]] = [
        ("#", "scenario", "action", "VM", "from", "to", "state", "memory", "downtime", "restore")
    ]
    for n, (d, scenario) in enumerate(zip(plan.tally.disruptions, plan.scenarios, strict=True)):
        memory = plan.memory.get(d.vm) if d.vm else None
        rows.append(
            (
                str(n + 1),
                scenario if len(scenario) <= 48 else scenario[:47] + "…",
                d.action,
                d.vm or "-",
                d.source or "-",
                _to(d),
                d.state or "-",
                f"{memory / 2**30:.2f} GiB" if memory is not None else "-",
                _seconds(d.downtime_s) if d.outage else "-",
                "yes" if d.restoring else "",
            )
        )
    return _grid(rows)


def vm_table(plan: Plan) -> str:
    """Per VM: moves (restores among them), drains, crashes, outages and their expected total."""
    rows: list[tuple[str, ...]] = [
        ("VM", "moves", "restores", "drains", "crashes", "outages", "expected downtime")
    ]
    for v in sorted(plan.tally.vms.values(), key=lambda v: v.vm):
        unpriced = f" + {v.unpriced_outages} unknown" if v.unpriced_outages else ""
        rows.append(
            (
                v.vm,
                str(v.moves),
                str(v.restores),
                str(v.drains),
                str(v.crashes),
                str(v.outages),
                f"{v.downtime_s:.1f} s{unpriced}",
            )
        )
    return _grid(rows)


def summary_line(tally: Tally) -> str:
    """The totals in one line."""
    from harness.run.budget import plan_totals

    return plan_totals(tally.summary())


def _unreachable(spec: TargetSpec) -> list[Any]:
    """The unreachable nodes of an inventory target ([] for other targets)."""
    if not spec.is_inventory:
        return []
    from harness.targets.inventory import load_inventory
    from harness.targets.reach import unreachable_nodes

    return list(unreachable_nodes(load_inventory(str(spec.path))))


def refuse_unreachable(spec: TargetSpec, command: str) -> bool:
    """Name the unreachable nodes of an inventory target (True: some are, nothing was run)."""
    unreachable = _unreachable(spec)
    for node in unreachable:
        print(
            f"qmaudit {command}: node {node.node} unreachable at {node.address}: {node.reason}",
            file=sys.stderr,
        )
    if unreachable:
        print(
            f"qmaudit {command}: cannot plan: {len(unreachable)} node(s) unreachable; "
            "nothing was run",
            file=sys.stderr,
        )
    return bool(unreachable)


def run_plan(
    target: str | TargetSpec,
    keyword: str | None = None,
    markers: str | None = None,
    lab_speed: float = 20.0,
    reports_root: Path = Path("reports"),
    budget: Budget | None = None,
    passive: bool = False,
    since: str | None = None,
) -> int:
    """`qmaudit plan`: print the schedule, per-VM outages and totals; write plan.json.

    With a budget (the same --max-moves / --max-downtime-per-vm as `run`): whether a run with
    those flags would start, exit 2 (as `run` would refuse) when the plan exceeds it.
    """
    from harness.evidence.records import new_run_id
    from harness.targets.registry import parse_spec

    spec = parse_spec(target)
    if refuse_unreachable(spec, "plan"):
        return 1
    run_id = new_run_id()
    run_dir = reports_root / run_id
    print(
        f"qmaudit plan {run_id} against target {spec.text!r}: read probes only; the suite runs "
        "on its twin (a lab built from them, simulated time)",
        flush=True,
    )
    # The run folder appears with the twin, once the twin run has finished: nothing half-written.
    if passive:
        print("qmaudit plan: passive: the guard refuses every disruptive action", flush=True)
    plan = compute_plan(
        spec, keyword, markers, lab_speed, keep=run_dir, passive=passive, since=since
    )
    (run_dir / "plan.json").write_text(json.dumps(plan.as_dict(), indent=2) + "\n", "utf-8")
    for note in plan.twin.assumptions:
        print(f"twin: {note}")
    if plan.tally.disruptions:
        print("\n" + schedule_table(plan) + "\n\n" + vm_table(plan))
    else:
        print("no disruptive action would be taken")
    move_only = [x for x in plan.skipped if "NOT JUDGED: only a move" in x]
    if move_only:
        print(f"qmaudit plan: {len(move_only)} scenario(s) need a move: NOT JUDGED when passive")
    for skipped in plan.skipped:
        if skipped not in move_only:
            print(f"qmaudit plan: skipped: {skipped}")
    print(f"\nqmaudit plan: {summary_line(plan.tally)}")
    for problem in plan.problems:
        print(f"qmaudit plan: on the twin: {problem}", file=sys.stderr)
    print(f"qmaudit plan: {run_dir / 'plan.json'}")
    if budget is not None and budget.given:
        overruns = budget.overruns(plan.as_dict())
        for line in overruns:
            print(f"qmaudit plan: over budget: {line}")
        if overruns:
            print("qmaudit plan: a run with these budget flags would be refused (exit 2)")
            return 2
        print("qmaudit plan: within budget: a run with these budget flags would start")
    return 1 if plan.problems else 0
