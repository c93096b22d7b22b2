"""The verdict: the one rule that turns an outcome into PASSED, FAILED, BROKEN or SKIPPED."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pytest

from harness.audit.assertions import InvariantBroken

Verdict = Literal["passed", "failed", "broken", "skipped"]
VERDICTS: tuple[Verdict, ...] = ("passed", "failed", "broken", "skipped")
# The worse verdict wins when a scenario or a claim has several: a violated claim outranks
# missing evidence, which outranks a pass; a skip says nothing.
RANK: dict[str, int] = {"failed": 3, "broken": 2, "passed": 1, "skipped": 0}


# How a record's claim was checked: by a move the run made, passively (the cluster as found, read
# only) or from history (the moves the cluster already made, from its event logs). The scenario's
# tags say which (features/passive.feature); every other scenario makes a move.
Checked = Literal["move", "passive", "history"]
CHECKED: tuple[Checked, ...] = ("move", "passive", "history")


def checked_by(tags: Iterable[str]) -> Checked:
    """How a scenario with these tags checks its claim."""
    found = set(tags)
    if "history" in found:
        return "history"
    return "passive" if "passive" in found else "move"


def claim_checks(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per claim, how its verdict was reached: the ways of the records that judged it (passed,
    failed or broken), e.g. "passive + history". A claim none judged (NOT JUDGED) reads
    "needs a move" when only move scenarios were skipped, else the read-only ways tried, marked
    "(inconclusive)"."""
    judged: dict[str, set[str]] = {}
    tried: dict[str, set[str]] = {}
    for rec in records:
        how = str(rec.get("checked") or checked_by(rec.get("tags") or ()))
        for claim, verdict in record_claim_verdicts(rec):
            (judged if verdict != "skipped" else tried).setdefault(claim, set()).add(how)
            judged.setdefault(claim, set())
    out: dict[str, str] = {}
    for claim in sorted(judged):
        ways = judged[claim]
        if ways:
            out[claim] = " + ".join(w for w in CHECKED if w in ways)
            continue
        passive = [w for w in CHECKED if w != "move" and w in tried.get(claim, set())]
        out[claim] = (" + ".join(passive) + " (inconclusive)") if passive else "needs a move"
    return out


def invariant_claims(exc: BaseException | None) -> tuple[str, ...]:
    """The claims a broken move invariant fails (() for any other outcome).

    A move the scenario does not judge itself (setup, restore, a leg) that broke the invariants
    of every quick migration raises InvariantBroken (harness/audit/invariants.py): the violation
    belongs to the claims it carries, whichever scenario's move it was.
    """
    return exc.claims if isinstance(exc, InvariantBroken) else ()


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
    if invariant_claims(exc):
        return "failed"  # a restore move broke an invariant: positive evidence, not missing
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


def record_claim_verdicts(rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (claim, verdict) pairs one evidence record speaks for.

    A record whose failure is a broken move invariant fails the claims that invariant names
    (`claims_violated`); its own claim then gets `own_verdict` (what its own checks reached:
    BROKEN when a setup move failed before them).
    """
    own, verdict = str(rec.get("claim")), str(rec.get("verdict"))
    violated = [str(c) for c in rec.get("claims_violated") or ()]
    if not violated:
        return [(own, verdict)]
    pairs = [(claim, "failed") for claim in violated]
    if own not in violated:
        pairs.append((own, str(rec.get("own_verdict") or "broken")))
    return pairs


def claim_verdicts(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per claim, the worst verdict of its scenarios' evidence records."""
    claims: dict[str, list[str]] = {}
    for rec in records:
        for claim, verdict in record_claim_verdicts(rec):
            claims.setdefault(claim, []).append(verdict)
    out = {claim: worst(verdicts) for claim, verdicts in claims.items()}
    return {claim: verdict for claim, verdict in sorted(out.items()) if verdict is not None}
