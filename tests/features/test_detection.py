"""The JUnit classifier the self-test relies on, checked against a real pytest run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.audit.claims import CLAIMS
from harness.lab.rules import RULES
from harness.selftest.runner import parse_junit


def test_every_rule_backs_a_known_claim() -> None:
    assert RULES
    assert {r.claim for r in RULES} <= set(CLAIMS)


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

@pytest.mark.claim("QM-07")
def test_claimed():
    pass
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
    "test_claimed": "passed",
}


def test_junit_outcomes_are_classified(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(_SAMPLE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    claim: c\n", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "test_sample.py", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "harness.selftest.runner", "--junitxml", str(junit)],
        cwd=tmp_path, capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    outcomes = parse_junit(junit)
    assert {o.name: o.outcome for o in outcomes} == _EXPECTED
    teardown = next(o for o in outcomes if o.name == "test_violated_then_teardown")
    assert "not left as found" in teardown.message
    # The selftest plugin (-p harness.selftest.runner) carries the claims into the report.
    claims = {o.name: o.claims for o in outcomes}
    assert claims["test_claimed"] == ("QM-07",)
    assert claims["test_passes"] == ()
