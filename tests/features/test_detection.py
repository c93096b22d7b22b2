"""The one classifier, checked end to end: a real pytest-bdd run, its evidence, the self-test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.domain.claims import CLAIMS
from harness.lab.rules import RULES
from harness.selftest.runner import read_outcomes


def test_every_rule_backs_a_known_claim() -> None:
    assert RULES
    assert {r.claim for r in RULES} <= set(CLAIMS)


# A real run of these scenarios against the simulated lab writes the evidence records the
# self-test reads; every way a scenario can end must give the verdict the one rule says.
_FEATURE = """Feature: Sample outcomes

  @claim:QM-01
  Scenario: passes
    Given nothing happens

  @claim:QM-02
  Scenario: violated
    Given the claim is violated

  @claim:QM-03
  Scenario: violated then teardown
    Given the cluster is not left as found
    And the claim is violated

  @claim:QM-04
  Scenario: harness error
    Given a probe answers nonsense

  @claim:QM-05
  Scenario: setup error
    Given nothing happens

  @claim:QM-06
  Scenario: teardown only
    Given the cluster is not left as found

  @claim:QM-07
  Scenario: pytest fail
    Given the step fails explicitly

  @claim:QM-08
  Scenario: skipped
    Given the target has no such VM

  @claim:QM-09
  Scenario: gate skip
    Given nothing happens
"""

_CONFTEST = """
import pytest
from pytest_bdd import given
from harness.errors import ProbeOutputError


@pytest.fixture
def bad_teardown():
    yield
    pytest.fail("the cluster was not left as found", pytrace=False)


@pytest.fixture(autouse=True)
def _by_name(request):
    if "setup_error" in request.node.name:
        raise RuntimeError("no evidence")
    if "gate_skip" in request.node.name:
        pytest.skip("lab-only scenario")


@given("nothing happens")
def nothing():
    pass


@given("the claim is violated")
def violated():
    assert 1 == 2, "claim violated"


@given("the cluster is not left as found")
def not_left(bad_teardown):
    pass


@given("a probe answers nonsense")
def nonsense():
    raise ProbeOutputError("host_info", "$.node", "missing")


@given("the step fails explicitly")
def explicit():
    pytest.fail("explicit")


@given("the target has no such VM")
def no_vm():
    pytest.skip("no VM of that kind")
"""

_EXPECTED = {
    "passes": ("passed", "QM-01"),
    "violated": ("failed", "QM-02"),
    "violated then teardown": ("failed", "QM-03"),
    "harness error": ("broken", "QM-04"),
    "setup error": ("broken", "QM-05"),
    "teardown only": ("broken", "QM-06"),
    "pytest fail": ("broken", "QM-07"),
    "skipped": ("skipped", "QM-08"),
    "gate skip": ("skipped", "QM-09"),
}


def test_evidence_verdicts_follow_the_one_rule(tmp_path: Path) -> None:
    (tmp_path / "sample.feature").write_text(_FEATURE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(_CONFTEST, encoding="utf-8")
    (tmp_path / "test_sample.py").write_text(
        'from pytest_bdd import scenarios\n\nscenarios("sample.feature")\n', encoding="utf-8"
    )
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "QM_RUN_ID")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "test_sample.py", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "harness.selftest.runner", "--qm-target", "lab+sim",
         "--qm-run-dir", str(run_dir)],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300, env=env,
    )  # fmt: skip
    outcomes = read_outcomes(run_dir)
    assert {o.name: (o.outcome, o.claims[0]) for o in outcomes} == _EXPECTED, done.stdout
    messages = {o.name: o.message for o in outcomes}
    assert "not left as found" in messages["violated then teardown"]
    assert "claim violated" in messages["violated then teardown"]
    assert "not left as found" in messages["teardown only"]
    assert "no evidence" in messages["setup error"]


def test_a_scenario_without_evidence_counts_as_broken(tmp_path: Path) -> None:
    # The target never opened: no record, yet the collected scenario must not vanish.
    (tmp_path / "collected.json").write_text('["QM-02", "QM-02"]', encoding="utf-8")
    (tmp_path / "evidence").mkdir()
    outcomes = read_outcomes(tmp_path)
    assert [(o.outcome, o.claims) for o in outcomes] == [("broken", ("QM-02",))] * 2
