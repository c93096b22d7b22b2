"""The qmaudit pytest plugin: options, markers, fixtures, evidence and leave-as-found hooks."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.audit.claims import CLAIMS, CORE_CLAIMS
from harness.drivers.base import ProbeRecord

TAG_MARKERS = {
    "core": "one of the four core claims (QM-02, QM-03, QM-13, QM-15)",
    "disruptive": "the scenario moves VMs (real downtime on a real cluster)",
    "destructive": "the scenario crashes a node (lab, or inventory opt-in only)",
    "lab-only": "needs an action only the embedded lab offers",
    "claim": "claim(QM-NN): the documented behaviour the scenario checks",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register qmaudit's command-line options."""
    group = parser.getgroup("qmaudit")
    group.addoption(
        "--qm-target",
        default="lab",
        help="target spec: lab, lab:<topology.yaml>, lab+inproc[:<topology.yaml>] (default: lab)",
    )
    group.addoption("--qm-lab-speed", type=float, default=20.0, help="lab seconds per second")
    group.addoption("--qm-run-dir", default=None, help="run folder (default reports/<run-id>)")
    group.addoption("--qm-run-id", default=None, help="run id (default: new)")


def pytest_configure(config: pytest.Config) -> None:
    """Register every Gherkin tag as a marker (strict markers stay on); check the target spec."""
    from harness.errors import InputError
    from harness.targets.registry import check_spec

    try:
        check_spec(config.getoption("--qm-target"))
    except InputError as exc:
        raise pytest.UsageError(f"--qm-target: {exc.message}") from None
    if _xdist_controller_of_a_cluster_run(config):
        from harness.evidence.records import new_run_id

        # Its workers (started after this) share one run id: one run folder, one lease.
        os.environ["QM_RUN_ID"] = new_run_id()
    for name, doc in TAG_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    for claim in CLAIMS:
        config.addinivalue_line("markers", f"{claim}: scenarios of claim {claim}")


def _xdist_controller_of_a_cluster_run(config: pytest.Config) -> bool:
    from harness.targets.registry import is_inventory_spec

    return (
        bool(getattr(config.option, "numprocesses", None))
        and not hasattr(config, "workerinput")
        and is_inventory_spec(str(config.getoption("--qm-target")).strip())
        and not config.getoption("--qm-run-id")
        and not os.environ.get("QM_RUN_ID")
    )


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
    downtimes: list[tuple[str, float, float]] = field(default_factory=list)

    def on_probe(self, record: ProbeRecord) -> None:
        if self.current is not None:
            self.current.record_probe(record)


def _run_dir(config: pytest.Config) -> tuple[str, Path]:
    from harness.evidence.records import new_run_id

    run_id = config.getoption("--qm-run-id") or os.environ.get("QM_RUN_ID") or new_run_id()
    given = config.getoption("--qm-run-dir")
    run_dir = Path(given) if given else Path("reports") / run_id
    return run_id, run_dir


@pytest.fixture(scope="session")
def qm_run(request: pytest.FixtureRequest) -> Iterator[RunContext]:
    """Open the target once per session; close it (and stop a served lab) at the end."""
    from harness.audit.identity import target_identity
    from harness.evidence.records import EvidenceWriter
    from harness.targets.registry import open_target

    config = request.config
    run_id, run_dir = _run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = open_target(
        config.getoption("--qm-target"), lab_speed=config.getoption("--qm-lab-speed")
    )
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
    from harness.safety.runguard import guarded_cluster

    sleep = getattr(qm_run.target, "sleep", None) or time.sleep
    cluster = guarded_cluster(request.config, qm_run, sleep)
    yield cluster
    cluster.guard.close()


@pytest.fixture(scope="session")
def qm_catalog(qm_run: RunContext, qm_cluster: Any) -> Any:
    """The target's VMs as found at the start of the run."""
    from harness.audit.catalog import Catalog

    return Catalog.read(qm_cluster, qm_run.target.allow_vm)


@pytest.fixture
def qm_restorer(qm_run: RunContext, qm_cluster: Any) -> Iterator[Any]:
    """Leave the cluster as found: undo the scenario's moves, drains and crashes at teardown."""
    from harness.safety.restore import Restorer, report_restore_problems

    restorer = Restorer(qm_cluster, timeout_s=qm_run.target.thresholds.move_timeout_s)
    yield restorer
    problems = restorer.restore()
    if problems:
        qm_run.restore_problems.extend(problems)
        report_restore_problems(problems)
        pytest.fail("the cluster was not left as found: " + "; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _qm_scenario_gate(request: pytest.FixtureRequest) -> None:
    """Skip lab-only and destructive scenarios where the target does not allow them."""
    if request.node.get_closest_marker("claim") is None:
        return
    run: RunContext = request.getfixturevalue("qm_run")
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
    allure_labels(claim, feature.name, claim in CORE_CLAIMS)


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
    from harness.evidence.records import verdict_for

    run = request.config.stash.get(_RUN_KEY, None)
    if run is not None and run.current is not None:
        run.current.finish(verdict_for(exception), f"{step.keyword} {step.name}: {exception}")


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Write the scenario's evidence record (validated) and attach it to the report."""
    run = request.config.stash.get(_RUN_KEY, None)
    if run is None or run.current is None:
        return
    evidence, run.current = run.current, None
    if evidence.finished_utc is None:
        # Called from pytest-bdd's `finally`: the exception in flight, if any, is still visible.
        # A skip (no VM of the needed kind) is not a pass; step_error saw every other exception.
        exc = sys.exc_info()[1]
        if isinstance(exc, pytest.skip.Exception):
            evidence.finish("skipped", str(exc.msg) if hasattr(exc, "msg") else str(exc))
        elif exc is not None:
            from harness.evidence.records import verdict_for

            evidence.finish(verdict_for(exc), f"{type(exc).__name__}: {exc}")
        else:
            evidence.finish("passed")
    run.writer.write(evidence)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A cluster not left as found makes the run fail, whatever the scenarios said."""
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
