"""The qmaudit pytest plugin: options, markers, fixtures, evidence and leave-as-found hooks."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.domain.claims import CLAIMS, CORE_CLAIMS
from harness.drivers.base import ProbeRecord

# The pytest-bdd step modules of the audit scenarios: registered by the plugin (not by a
# conftest) so the installed package runs its features from any folder.
STEP_MODULES = (
    "steps.common",
    "steps.moves",
    "steps.checks_move",
    "steps.checks_identity",
    "steps.checks_cluster",
    "steps.checks_clock",
    "steps.checks_nodes",
    "steps.passive",
)

TAG_MARKERS = {
    "core": "one of the four core claims (QM-02, QM-03, QM-13, QM-15)",
    "disruptive": "the scenario moves VMs (real downtime on a real cluster)",
    "destructive": "the scenario crashes a node (lab, or inventory opt-in only)",
    "lab-only": "needs an action only the embedded lab offers",
    "own-move": "judges what happens right after the move: never takes an earlier move",
    "claim": "claim(QM-NN): the documented behaviour the scenario checks",
    "passive": "read-only: runs only in a passive audit (qmaudit run --passive)",
    "static": "judges the cluster as found (static invariants), read only",
    "history": "judges the moves the cluster already made, from its event logs",
}


@dataclass(frozen=True)
class ChosenTarget:
    """The target spec `qmaudit run`/`plan` parsed, handed to the plugin (not parsed again)."""

    spec: Any  # harness.targets.registry.TargetSpec


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register qmaudit's command-line options."""
    from harness.targets.registry import spec_help

    group = parser.getgroup("qmaudit")
    group.addoption(
        "--qm-target",
        default="lab",
        help="target spec (default: lab): " + spec_help(),
    )
    group.addoption("--qm-lab-speed", type=float, default=20.0, help="lab seconds per second")
    group.addoption("--qm-run-dir", default=None, help="run folder (default reports/<run-id>)")
    group.addoption("--qm-run-id", default=None, help="run id (default: new)")
    from harness.run.passive import add_options

    add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    """Register every Gherkin tag as a marker (strict markers stay on); check the target spec."""
    from harness.errors import InputError, plain_message
    from harness.targets.registry import parse_spec

    chosen = _plugin_of(config, ChosenTarget)
    try:
        spec = chosen.spec if chosen is not None else parse_spec(config.getoption("--qm-target"))
    except InputError as exc:
        # The registry names the option --target (the CLI's); under pytest it is --qm-target.
        where = f"{exc.location}: {exc.reason}" if exc.source == "--target" else exc.message
        raise pytest.UsageError(f"--qm-target {plain_message(where)}") from None
    config.stash[_SPEC_KEY] = spec
    for module in STEP_MODULES:
        if not config.pluginmanager.has_plugin(module):
            config.pluginmanager.import_plugin(module)
    for name, doc in TAG_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    for claim in CLAIMS:
        config.addinivalue_line("markers", f"{claim}: scenarios of claim {claim}")


_SPEC_KEY = pytest.StashKey[Any]()


def _plugin_of(config: pytest.Config, kind: type[Any]) -> Any:
    """The registered plugin object of a type (passed to pytest.main by the runner)."""
    # list_name_plugin, not get_plugins: that builds a set, and dataclass plugins don't hash.
    for _name, plugin in config.pluginmanager.list_name_plugin():
        if isinstance(plugin, kind):
            return plugin
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> Any:
    """`@claim:QM-NN` becomes the markers `claim("QM-NN")` and `QM-NN` (selectable with -m)."""
    if tag.startswith("claim:"):
        claim = tag.split(":", 1)[1]
        if claim not in CLAIMS:
            raise pytest.UsageError(f"unknown claim tag @{tag} (known: QM-01 .. QM-22)")
        pytest.mark.claim(claim)(function)
        getattr(pytest.mark, claim)(function)
        return True
    return None


@dataclass
class RunContext:
    """Session-wide state of one audit run (a fixture, never a global)."""

    run_id: str
    run_dir: Path
    target: Any
    identity: Any
    writer: Any
    current: Any = None
    restore_problems: list[str] = field(default_factory=list)
    # Per pytest item: the record written at the end of the scenario and its file, so a setup
    # or teardown outcome can still settle the scenario's verdict.
    records: dict[str, tuple[Any, Path]] = field(default_factory=dict)
    downtimes: list[tuple[str, float, float]] = field(default_factory=list)

    def on_probe(self, record: ProbeRecord) -> None:
        if self.current is not None:
            self.current.record_probe(record)


_RUN_ID_KEY = pytest.StashKey[tuple[str, Path]]()


def _run_dir(config: pytest.Config) -> tuple[str, Path]:
    """The run's id and folder: chosen once by the controller; xdist workers get them from it."""
    from harness.evidence.records import new_run_id

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "qm_run_id" in workerinput:
        return str(workerinput["qm_run_id"]), Path(workerinput["qm_run_dir"])
    chosen = config.stash.get(_RUN_ID_KEY, None)
    if chosen is None:
        run_id = config.getoption("--qm-run-id") or os.environ.get("QM_RUN_ID") or new_run_id()
        given = config.getoption("--qm-run-dir")
        chosen = (run_id, Path(given) if given else Path("reports") / run_id)
        config.stash[_RUN_ID_KEY] = chosen
    return chosen


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker writes into the one run (same id, same folder)."""
    run_id, run_dir = _run_dir(node.config)
    node.workerinput["qm_run_id"] = run_id
    node.workerinput["qm_run_dir"] = str(run_dir.resolve())


@pytest.fixture(scope="session")
def qm_run(request: pytest.FixtureRequest) -> Iterator[RunContext]:
    """Open the target once per session; close it (and stop a served lab) at the end."""
    from harness.audit.identity import target_identity
    from harness.evidence.records import EvidenceWriter
    from harness.targets.registry import open_target

    config = request.config
    run_id, run_dir = _run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = open_target(config.stash[_SPEC_KEY], lab_speed=config.getoption("--qm-lab-speed"))
    try:
        identity = target_identity(target)
        run = RunContext(run_id, run_dir, target, identity, EvidenceWriter(run_dir))
        target.driver.listeners.append(run.on_probe)  # type: ignore[attr-defined]
        config.stash[_RUN_KEY] = run
        yield run
    finally:
        target.close()


_RUN_KEY = pytest.StashKey[RunContext]()


@pytest.fixture(scope="session")
def qm_cluster(request: pytest.FixtureRequest, qm_run: RunContext) -> Iterator[Any]:
    """The Cluster facade over the target's driver; every action passes the run's guard."""
    from harness.run.runguard import guarded_cluster

    sleep = getattr(qm_run.target, "sleep", None) or time.sleep
    cluster = guarded_cluster(request.config, qm_run, sleep)
    yield cluster
    cluster.guard.close()


@pytest.fixture(scope="session")
def qm_catalog(request: pytest.FixtureRequest, qm_run: RunContext, qm_cluster: Any) -> Any:
    """The target's VMs as found at the start of the run."""
    from harness.audit.catalog import Catalog

    catalog = Catalog.read(qm_cluster, qm_run.target.allow_vm)
    # Said once, before the first move: what this session cannot look at, the cause and the fix.
    if catalog.cannot_look:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            for notice in catalog.cannot_look:
                print(f"qmaudit: cannot look: {notice}", file=sys.stderr, flush=True)
    return catalog


def _shares_cluster(config: pytest.Config, run: RunContext) -> bool:
    """Workers of one run on one real cluster: none may leave a VM away for the next scenario."""
    return run.target.kind == "cluster" and hasattr(config, "workerinput")


@pytest.fixture(scope="session")
def qm_restorer_run(
    request: pytest.FixtureRequest, qm_run: RunContext, qm_cluster: Any
) -> Iterator[Any]:
    """The run's restorer: what is still away at the end of the session goes back then."""
    from harness.run.restore import Restorer, report_restore_problems

    lazy = not _shares_cluster(request.config, qm_run)
    restorer = Restorer(qm_cluster, timeout_s=qm_run.target.thresholds.move_timeout_s, lazy=lazy)
    yield restorer
    # Normally the last scenario returned everything; this is the backstop (a run stopped
    # before its last scenario, or a last item that never reached its restorer).
    restorer.scenario = "end of run"
    problems = restorer.restore()
    if problems:
        qm_run.restore_problems.extend(problems)
        report_restore_problems(problems)
    for violation in restorer.violations:
        qm_run.restore_problems.append(f"a restore move broke an invariant: {violation}")


@pytest.fixture(scope="session")
def qm_moves(request: pytest.FixtureRequest, qm_run: RunContext, qm_cluster: Any) -> Any:
    """The moves this run observed; a later scenario may take the last one as its own."""
    from harness.audit.ledger import MoveLedger

    guard = qm_cluster.guard
    return MoveLedger(lambda: guard.started, enabled=not _shares_cluster(request.config, qm_run))


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the scenarios in the order that lets one observed move serve the most of them."""
    from harness.run.passive import select
    from harness.run.schedule import schedule

    select(config, items)
    items[:] = schedule(items)


_NEXT_ITEM = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Note whether this is the session's last item: its restorer returns every VM."""
    item.stash[_NEXT_ITEM] = nextitem is not None


@pytest.fixture
def qm_restorer(
    qm_run: RunContext, qm_restorer_run: Any, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Leave the cluster as found: the scenario's drains and crashes are undone at teardown,
    its moves too unless the run's restorer is lazy (then the run's last scenario does it)."""
    from harness.run.restore import report_restore_problems
    from harness.suite.scenario import scenario_of

    restorer = qm_restorer_run
    found = scenario_of(request.node)
    restorer.scenario = found.title if found else request.node.name
    restorer.violations = []
    yield restorer
    last = not request.node.stash.get(_NEXT_ITEM, True)
    problems = restorer.end_scenario()
    if problems:
        qm_run.restore_problems.extend(problems)
        report_restore_problems(problems)
        pytest.fail("the cluster was not left as found: " + "; ".join(problems), pytrace=False)
    if last and restorer.lazy:
        # The VMs earlier scenarios left away go home now. What cannot be put back is the run's
        # problem (exit code, summary), not this scenario's verdict: its claim did not cause it.
        problems = restorer.restore()
        if problems:
            qm_run.restore_problems.extend(problems)
            report_restore_problems(problems)
    if restorer.violations:
        # Every move is judged: a restore move that broke an invariant is a violated claim.
        violations, restorer.violations = restorer.violations, []
        raise AssertionError(" | ".join(violations))


@pytest.fixture(autouse=True)
def _qm_cluster_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under pytest-xdist, one scenario at a time per real cluster, restore included.

    Workers of one run share the cluster; the per-action lock alone lets one worker's Given
    step see another worker's VM still moving (a false "not idle"), or two scenarios pick the
    same VM. Autouse, so it is set up before and torn down after the scenario's restorer.
    Lab targets are not shared: every worker opens its own lab.
    """
    if request.node.get_closest_marker("claim") is None or not hasattr(
        request.config, "workerinput"
    ):
        yield
        return
    run: RunContext = request.getfixturevalue("qm_run")
    if run.target.kind != "cluster":
        yield
        return
    from harness.audit.lock import ClusterLock

    with ClusterLock(f"{run.identity.cluster} scenario"):
        yield


@pytest.fixture(autouse=True)
def _qm_scenario_gate(request: pytest.FixtureRequest) -> None:
    """Skip lab-only and destructive scenarios where the target does not allow them."""
    if request.node.get_closest_marker("claim") is None:
        return
    run: RunContext = request.getfixturevalue("qm_run")  # opened first: the skip gets a record
    from harness.run.passive import gate

    gate(request.node)
    if request.node.get_closest_marker("lab-only") and not run.target.lab_actions:
        pytest.skip("lab-only scenario: the target offers no lab actions (lab_actions: false)")
    if request.node.get_closest_marker("destructive") and not run.target.allow_destructive:
        pytest.skip("destructive scenario: the inventory does not allow destructive scenarios")


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Start the scenario's evidence record and set the Allure labels."""
    from harness.evidence.allure import allure_labels
    from harness.evidence.records import ScenarioEvidence

    marker = request.node.get_closest_marker("claim")
    if marker is None:
        return
    run: RunContext = request.getfixturevalue("qm_run")
    claim = str(marker.args[0])
    params = getattr(request.node, "callspec", None)
    example = {}
    if params is not None:
        example = {str(k): str(v) for k, v in params.params.get("_pytest_bdd_example", {}).items()}
    run.current = ScenarioEvidence(
        run_id=run.run_id,
        scenario=scenario.name,
        feature=feature.name,
        claim=claim,
        target=run.identity,
        tags=sorted(scenario.tags | feature.tags),
        params=example,
    )
    from harness.evidence.verdicts import checked_by

    allure_labels(claim, feature.name, claim in CORE_CLAIMS, checked_by(run.current.tags))


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_step_call(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: dict[str, Any],
) -> None:
    """After allure-pytest-bdd recorded the step's arguments: keep the plain values only."""
    from harness.evidence.allure import keep_plain_step_parameters

    keep_plain_step_parameters(request.config, step, step_func_args)


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: Any,
    exception: BaseException,
) -> None:
    """Remember why the scenario did not pass: failed (claim violated) or broken (no evidence)."""
    from harness.evidence.verdicts import classify

    run = request.config.stash.get(_RUN_KEY, None)
    if run is not None and run.current is not None:
        run.current.finish(classify(exception), f"{step.keyword} {step.name}: {exception}")


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Write the scenario's evidence record (validated) and attach it to the report."""
    run = request.config.stash.get(_RUN_KEY, None)
    if run is None or run.current is None:
        return
    evidence, run.current = run.current, None
    if evidence.finished_utc is None:
        # Called from pytest-bdd's `finally`: the exception in flight, if any, is still visible.
        # A skip (no VM of the needed kind) is not a pass; step_error saw every other exception.
        from harness.evidence.verdicts import classify

        evidence.finish(classify(sys.exc_info()[1]), _failure_text(sys.exc_info()[1]))
    run.records[request.node.nodeid] = (evidence, run.writer.write(evidence))


def _failure_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, pytest.skip.Exception):
        return str(exc.msg) if hasattr(exc, "msg") else str(exc)
    return f"{type(exc).__name__}: {exc}"


_PHASES_KEY = pytest.StashKey[dict[str, tuple[str, str | None]]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Classify every phase with the one rule; settle the scenario's record after teardown."""
    from harness.evidence.verdicts import classify

    report = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    verdict = classify(exc, call.when)
    report.qm_verdict = verdict  # read by the progress printer of `qmaudit run`
    phases = item.stash.setdefault(_PHASES_KEY, {})
    phases[call.when] = (verdict, _failure_text(exc))
    if call.when == "teardown" and item.get_closest_marker("claim") is not None:
        _settle_record(item, phases)
    return report


def _settle_record(item: pytest.Item, phases: dict[str, tuple[str, str | None]]) -> None:
    """The record carries the scenario's verdict over all phases (setup, call, teardown)."""
    from harness.evidence.verdicts import RANK, invariant_claims, scenario_verdict

    run = item.config.stash.get(_RUN_KEY, None)
    if run is None:
        return  # the target never opened: no record can name it (the run reports the error)
    verdict = scenario_verdict({when: v for when, (v, _) in phases.items()})
    notes = [f"{when}: {text}" for when, (v, text) in phases.items() if when != "call" and text]
    # A broken move invariant (setup, leg or restore move) fails the claims it names; the
    # scenario's own claim keeps what its own checks reached (BROKEN if they never ran).
    violated = sorted({c for _, text in phases.values() for c in invariant_claims(text)})
    own = scenario_verdict(
        {
            when: ("broken" if when == "call" else "passed") if invariant_claims(text) else v
            for when, (v, text) in phases.items()
        }
    )
    written = run.records.pop(item.nodeid, None)
    if written is not None:
        evidence, path = written
        if violated:
            evidence.attribute(violated, own)
        if notes:  # a teardown that could not restore: recorded, and BROKEN unless FAILED
            final = verdict if RANK[verdict] > RANK[evidence.verdict] else evidence.verdict
            evidence.finish(final, "; ".join([evidence.failure or "", *notes]).strip("; "))
        if notes or violated:
            run.writer.write(evidence, path=path, attach=False)
        return
    from harness.evidence.records import ScenarioEvidence
    from harness.suite.scenario import scenario_of

    found = scenario_of(item)
    if found is None:
        return
    evidence = ScenarioEvidence(
        run_id=run.run_id,
        scenario=found.rendered,
        feature=found.feature,
        claim=found.claim,
        target=run.identity,
        tags=found.tags,
        params=found.example,
    )
    evidence.finish(verdict, "; ".join(notes) or None)
    if violated:
        evidence.attribute(violated, own)
    run.writer.write(evidence, attach=False)


@pytest.hookimpl(trylast=True)
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A cluster not left as found makes the run fail, whatever the scenarios said.

    Last: after pytest's own sessionfinish has torn down the session fixtures, whose restorer
    is the backstop for VMs still away."""
    run = session.config.stash.get(_RUN_KEY, None)
    if run is None:
        return
    results = session.config.getoption("allure_report_dir", None)
    if results:
        from harness.evidence.allure import write_allure_environment, write_categories

        Path(results).mkdir(parents=True, exist_ok=True)
        write_allure_environment(
            Path(results), run.identity, {"transport": run.target.transport, "run_id": run.run_id}
        )
        write_categories(Path(results))
    if run.restore_problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller (not an xdist worker) finalises the run: the manifest, once."""
    chosen = config.stash.get(_RUN_ID_KEY, None)
    if chosen is None or getattr(config, "workerinput", None) is not None:
        return
    run_id, run_dir = chosen
    if (run_dir / "evidence").is_dir():
        from harness.evidence.manifest import write_manifest
        from harness.evidence.records import EvidenceError

        try:
            write_manifest(run_dir, run_id, {"target_spec": config.getoption("--qm-target")})
        except EvidenceError as exc:
            # The session is over: say why the folder has no manifest instead of crashing pytest.
            print(f"qmaudit: {exc.message}", file=sys.stderr)
