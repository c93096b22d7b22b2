"""Each claim's scenarios fail on a lab with its rule switched off and pass on a clean lab."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.rules import RULES, Rule
from harness.plugin import CLAIMS
from tests.features.detection import (
    RunResult,
    parse_junit,
    rules_off_entry,
    run_scenarios,
    write_topology,
)

RULE_CLAIMS = sorted({r.claim for r in RULES})


@pytest.fixture(scope="module")
def detection_table() -> Iterator[dict[int, str]]:
    """Rows of the detection table by rule index, printed when the module ends (with -s)."""
    rows: dict[int, str] = {}
    yield rows
    if rows:
        print("\n\nrule                              claim  outcome")
        print("\n".join(rows[i] for i in sorted(rows)))


def _row(rule: Rule, result: RunResult) -> str:
    verdict = "DETECTED" if result.named("failed") else "NOT DETECTED"
    untidy = sum("[teardown:" in s.message for s in result.scenarios)
    note = f"; {untidy} not left as found" if untidy else ""
    return f"{rule.id:33} {rule.claim}  {verdict} ({result.summary()}{note})"


def test_every_rule_backs_a_known_claim() -> None:
    assert RULES
    assert set(RULE_CLAIMS) <= set(CLAIMS)


# A real pytest run of these tests gives the JUnit XML the classifier must read correctly.
_SAMPLE = """
import pytest

@pytest.fixture
def bad_teardown():
    yield
    pytest.fail("not left as found")

@pytest.fixture
def bad_setup():
    raise RuntimeError("no evidence")

def test_passes():
    pass

def test_violated():
    assert 1 == 2, "claim violated"

def test_violated_then_teardown(bad_teardown):
    raise AssertionError("claim violated")

def test_harness_error():
    raise ValueError("probe output")

def test_setup_error(bad_setup):
    pass

def test_teardown_only(bad_teardown):
    pass

def test_pytest_fail():
    pytest.fail("explicit")

def test_skipped():
    pytest.skip("not here")
"""

_EXPECTED = {
    "test_passes": "passed",
    "test_violated": "failed",
    "test_violated_then_teardown": "failed",
    "test_harness_error": "broken",
    "test_setup_error": "broken",
    "test_teardown_only": "broken",
    "test_pytest_fail": "broken",
    "test_skipped": "skipped",
}


def test_junit_outcomes_are_classified(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(_SAMPLE, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "test_sample.py", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "--junitxml", str(junit)],
        cwd=tmp_path, capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    outcomes = parse_junit(junit)
    assert {o.name: o.outcome for o in outcomes} == _EXPECTED
    teardown = next(o for o in outcomes if o.name == "test_violated_then_teardown")
    assert "not left as found" in teardown.message


# Each case below runs the audit in a fresh process on a lab clock 40 times real time.
@pytest.mark.slow
def test_clean_lab_passes_every_scenario(tmp_path: Path) -> None:
    result = run_scenarios(tmp_path, None, None)
    assert result.scenarios, result.output[-2000:]
    assert len(result.named("passed")) == len(result.scenarios), result.detail()
    assert result.exit_code == 0, result.output[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("claim", RULE_CLAIMS)
def test_claim_passes_alone_on_clean_lab(tmp_path: Path, claim: str) -> None:
    # The rule-off runs select one claim; its scenarios must pass when selected the same way on
    # the clean lab, or a failure there could come from the selection, not from the rule.
    result = run_scenarios(tmp_path, None, claim)
    assert result.scenarios, f"no scenario carries {claim}: {result.output[-2000:]}"
    assert len(result.named("passed")) == len(result.scenarios), result.detail()
    assert result.exit_code == 0, result.output[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_off_fails_its_claim(
    tmp_path: Path, rule: Rule, detection_table: dict[int, str]
) -> None:
    topology = write_topology(tmp_path, [rules_off_entry(rule)])
    result = run_scenarios(tmp_path, topology, rule.claim)
    row = _row(rule, result)
    detection_table[RULES.index(rule)] = row
    print(row)
    assert result.scenarios, f"no scenario ran for {rule.claim}: {result.output[-2000:]}"
    assert result.named("failed"), (
        f"with {rule.id} off, no scenario of {rule.claim} failed on an AssertionError:\n"
        + result.detail()
    )
    assert result.exit_code == 1, result.output[-2000:]
