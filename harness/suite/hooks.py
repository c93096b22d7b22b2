"""The plugin's hooks once a target is given: claims as markers, order, evidence, finishing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.domain.claims import CLAIMS, CORE_CLAIMS
from harness.suite.context import (
    RUN_ID_KEY,
    RUN_KEY,
    SPEC_KEY,
    STARTED_KEY,
    ChosenTarget,
    RunContext,
    plugin_of,
    run_dir_of,
)
from harness.suite.fixtures import NEXT_ITEM


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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker writes into the one run (same id, same folder)."""
    run_id, run_dir = run_dir_of(node.config)
    node.workerinput["qm_run_id"] = run_id
    node.workerinput["qm_run_dir"] = str(run_dir.resolve())


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the scenarios in the order that lets one observed move serve the most of them."""
    from harness.run.passive import select
    from harness.run.schedule import NoMoveDeclared, schedule

    select(config, items)
    try:
        items[:] = schedule(items)
    except NoMoveDeclared as exc:
        # Collection fails: which moves are shared must never hang on a step's wording.
        raise pytest.UsageError(f"qmaudit: {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Note whether this is the session's last item: its restorer returns every VM."""
    item.stash[NEXT_ITEM] = nextitem is not None


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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A cluster not left as found makes the run fail, whatever the scenarios said.

    Last: after pytest's own sessionfinish has torn down the session fixtures, whose restorer
    is the backstop for VMs still away."""
    run = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        _close_run(session, run)
    _finish(session)


def _close_run(session: pytest.Session, run: RunContext) -> None:
    """The Allure environment of this process's run; its restore problems fail the session."""
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


def _finish(session: pytest.Session) -> None:
    """Plain pytest: finish the run like `qmaudit run` does (harness/evidence/finish.py).

    The controller only (not an xdist worker), and not when the caller (`qmaudit run`, `plan`)
    finishes the run itself. A finishing step that failed is reported; a run left without its
    manifest fails the session.
    """
    config = session.config
    chosen = plugin_of(config, ChosenTarget)
    ids = config.stash.get(RUN_ID_KEY, None)
    if hasattr(config, "workerinput") or ids is None:
        return
    if chosen is not None and chosen.finished_by_caller:
        return
    run_id, run_dir = ids
    if not (run_dir / "evidence").is_dir():
        return  # no scenario ran (collection only, or nothing selected): nothing to finish
    from harness.evidence.finish import FinishingRun, default_reporters, finalise_run

    started = config.stash.get(STARTED_KEY, time.monotonic())
    finishing = FinishingRun(
        run_dir=run_dir,
        run_id=run_id,
        target_spec=config.stash[SPEC_KEY].text,
        pytest_exit_code=int(session.exitstatus),
        elapsed_s=time.monotonic() - started,
    )
    history = None
    if not config.getoption("--qm-no-history"):
        history = Path(config.getoption("--qm-history") or run_dir.parent / "history")
    keep = max(1, int(config.getoption("--qm-history-keep")))
    report = not config.getoption("--qm-no-report")
    done = finalise_run(finishing, default_reporters(report, history, keep))
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.ensure_newline()
    for line in [*done.lines, f"manifest  {done.manifest}" if done.manifest else ""]:
        if not line:
            continue
        if terminal is not None:
            terminal.write_line(f"qmaudit: {line}")
        else:
            print(f"qmaudit: {line}")
    for problem in done.problems:
        print(f"qmaudit: finishing the run: {problem}", file=sys.stderr)
    if not done.sealed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
