"""Settling a scenario's evidence record: every phase (setup, steps, teardown) has its say."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from harness.suite.context import RUN_KEY


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

    run = request.config.stash.get(RUN_KEY, None)
    if run is not None and run.current is not None:
        run.current.finish(classify(exception), f"{step.keyword} {step.name}: {exception}")


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Write the scenario's evidence record (validated) and attach it to the report."""
    run = request.config.stash.get(RUN_KEY, None)
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


# Per phase: its verdict, its failure text and the claims a broken move invariant fails.
Phase = tuple[str, str | None, tuple[str, ...]]
_PHASES_KEY = pytest.StashKey[dict[str, Phase]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Classify every phase with the one rule; settle the scenario's record after teardown."""
    from harness.evidence.verdicts import classify, invariant_claims

    report = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    verdict = classify(exc, call.when)
    report.qm_verdict = verdict  # read by the progress printer of `qmaudit run`
    phases = item.stash.setdefault(_PHASES_KEY, {})
    phases[call.when] = (verdict, _failure_text(exc), invariant_claims(exc))
    if call.when == "teardown" and item.get_closest_marker("claim") is not None:
        _settle_record(item, phases)
    return report


def _settle_record(item: pytest.Item, phases: dict[str, Phase]) -> None:
    """The record carries the scenario's verdict over all phases (setup, call, teardown)."""
    from harness.evidence.verdicts import RANK, scenario_verdict

    run = item.config.stash.get(RUN_KEY, None)
    if run is None:
        return  # the target never opened: no record can name it (the run reports the error)
    verdict = scenario_verdict({when: v for when, (v, _, _) in phases.items()})
    notes = [f"{when}: {text}" for when, (_, text, _) in phases.items() if when != "call" and text]
    # A broken move invariant (setup, leg or restore move) fails the claims it names; the
    # scenario's own claim keeps what its own checks reached (BROKEN if they never ran).
    violated = sorted({c for _, _, claims in phases.values() for c in claims})
    own = scenario_verdict(
        {
            when: ("broken" if when == "call" else "passed") if claims else v
            for when, (v, _, claims) in phases.items()
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
