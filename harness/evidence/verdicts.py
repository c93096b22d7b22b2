"""The verdict: the one rule that turns an outcome into PASSED, FAILED, BROKEN or SKIPPED."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pytest

Verdict = Literal["passed", "failed", "broken", "skipped"]
VERDICTS: tuple[Verdict, ...] = ("passed", "failed", "broken", "skipped")
# The worse verdict wins when a scenario or a claim has several: a violated claim outranks
# missing evidence, which outranks a pass; a skip says nothing.
RANK: dict[str, int] = {"failed": 3, "broken": 2, "passed": 1, "skipped": 0}


def classify(exc: BaseException | None, phase: str = "call") -> Verdict:
    """The verdict of one phase of a scenario from the exception it ended with (None: none).

    No exception passed; a pytest skip is SKIPPED; an AssertionError raised while the scenario
    runs is a claim violated (FAILED); anything else, and any error while preparing the scenario
    or leaving the cluster as found (setup, teardown), means the evidence could not be gathered
    (BROKEN), as in Allure's rule.
    """
    if exc is None:
        return "passed"
    if isinstance(exc, pytest.skip.Exception):
        return "skipped"
    if phase == "call" and isinstance(exc, AssertionError):
        return "failed"
    return "broken"


def worst(verdicts: Iterable[str]) -> Verdict | None:
    """The worst of several verdicts (None for none)."""
    found: Verdict | None = None
    for verdict in verdicts:
        if verdict in RANK and (found is None or RANK[verdict] > RANK[found]):
            found = verdict  # type: ignore[assignment]
    return found


def scenario_verdict(phases: Mapping[str, str]) -> Verdict:
    """One scenario's verdict from its phases' verdicts (setup, call, teardown).

    A failed or broken phase decides, the worse one winning (a teardown that could not restore
    the cluster makes a passed or skipped scenario BROKEN, a FAILED one stays FAILED); else a
    skip in any phase skips the scenario.
    """
    bad = worst(v for v in phases.values() if v in ("failed", "broken"))
    if bad is not None:
        return bad
    return "skipped" if "skipped" in phases.values() else "passed"


def claim_verdicts(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per claim, the worst verdict of its scenarios' evidence records."""
    claims: dict[str, list[str]] = {}
    for rec in records:
        claims.setdefault(str(rec.get("claim")), []).append(str(rec.get("verdict")))
    out = {claim: worst(verdicts) for claim, verdicts in claims.items()}
    return {claim: verdict for claim, verdict in sorted(out.items()) if verdict is not None}
