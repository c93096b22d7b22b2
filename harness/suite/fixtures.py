"""The qmaudit fixtures: the run (target, evidence writer), the guarded Cluster, the restorers."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.suite.context import RUN_KEY, SPEC_KEY, RunContext, run_dir_of

# The session's last item (set by harness/suite/hooks.py): its restorer returns every VM.
NEXT_ITEM = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def qm_run(request: pytest.FixtureRequest) -> Iterator[RunContext]:
    """Open the target once per session; close it (and stop a served lab) at the end."""
    from harness.audit.identity import target_identity
    from harness.evidence.records import EvidenceWriter
    from harness.targets.registry import open_target

    config = request.config
    run_id, run_dir = run_dir_of(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = open_target(config.stash[SPEC_KEY], lab_speed=config.getoption("--qm-lab-speed"))
    try:
        identity = target_identity(target)
        run = RunContext(run_id, run_dir, target, identity, EvidenceWriter(run_dir))
        target.driver.listeners.append(run.on_probe)  # type: ignore[attr-defined]
        config.stash[RUN_KEY] = run
        yield run
    finally:
        target.close()


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


@pytest.fixture
def qm_restorer(
    qm_run: RunContext, qm_restorer_run: Any, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Leave the cluster as found: the scenario's drains and crashes are undone at teardown,
    its moves too unless the run's restorer is lazy (then the run's last scenario does it)."""
    from harness.audit.assertions import InvariantBroken
    from harness.run.restore import report_restore_problems
    from harness.suite.scenario import scenario_of

    restorer = qm_restorer_run
    found = scenario_of(request.node)
    restorer.scenario = found.title if found else request.node.name
    restorer.violations = []
    yield restorer
    last = not request.node.stash.get(NEXT_ITEM, True)
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
        raise InvariantBroken.combine(violations)


@pytest.fixture
def scn(
    request: pytest.FixtureRequest,
    qm_run: Any,
    qm_cluster: Any,
    qm_catalog: Any,
    qm_restorer: Any,
    qm_moves: Any,
) -> Any:
    """The scenario's state (harness/run/scenario.py), which its steps share."""
    from harness.run.scenario import Scenario
    from harness.run.schedule import need_of_item

    return Scenario(
        qm_run,
        qm_cluster,
        qm_catalog,
        qm_restorer,
        qm_moves,
        need=need_of_item(request.node),
        title=qm_restorer.scenario,
    )


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
