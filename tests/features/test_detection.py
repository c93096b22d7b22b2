"""Each claim's scenarios fail on a lab with its rule switched off and pass on a clean lab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.rules import RULES, Rule
from harness.plugin import CLAIMS
from tests.features.detection import RunResult, rules_off_entry, run_scenarios, write_topology

# Each case runs the audit in a fresh process on a lab clock 40 times faster than real time.
pytestmark = pytest.mark.slow

RULE_CLAIMS = sorted({r.claim for r in RULES})


@pytest.fixture(scope="module")
def detection_table() -> Iterator[list[str]]:
    """Rows of the detection table, printed when the module ends (visible with -s)."""
    rows: list[str] = []
    yield rows
    if rows:
        print("\n\nrule                              claim  outcome")
        print("\n".join(sorted(rows)))


def _row(rule: Rule, result: RunResult) -> str:
    verdict = "DETECTED" if result.named("failed") else "NOT DETECTED"
    return f"{rule.id:33} {rule.claim}  {verdict} ({result.summary()})"


def test_every_rule_backs_a_known_claim() -> None:
    assert RULES
    assert set(RULE_CLAIMS) <= set(CLAIMS)


def test_clean_lab_passes_every_scenario(tmp_path: Path) -> None:
    result = run_scenarios(tmp_path, None, None)
    assert result.scenarios, result.output[-2000:]
    assert len(result.named("passed")) == len(result.scenarios), result.detail()
    assert result.exit_code == 0, result.output[-2000:]


@pytest.mark.parametrize("claim", RULE_CLAIMS)
def test_claim_passes_alone_on_clean_lab(tmp_path: Path, claim: str) -> None:
    # The rule-off runs select one claim; its scenarios must pass when selected the same way on
    # the clean lab, or a failure there could come from the selection, not from the rule.
    result = run_scenarios(tmp_path, None, claim)
    assert result.scenarios, f"no scenario carries {claim}: {result.output[-2000:]}"
    assert len(result.named("passed")) == len(result.scenarios), result.detail()
    assert result.exit_code == 0, result.output[-2000:]


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_off_fails_its_claim(tmp_path: Path, rule: Rule, detection_table: list[str]) -> None:
    topology = write_topology(tmp_path, [rules_off_entry(rule)])
    result = run_scenarios(tmp_path, topology, rule.claim)
    row = _row(rule, result)
    detection_table.append(row)
    print(row)
    assert result.scenarios, f"no scenario ran for {rule.claim}: {result.output[-2000:]}"
    assert result.named("failed"), (
        f"with {rule.id} off, no scenario of {rule.claim} failed on an AssertionError:\n"
        + result.detail()
    )
    assert result.exit_code == 1, result.output[-2000:]
