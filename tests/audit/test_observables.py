"""docs/observables.md has no gap: every claim has rows, every row a step its scenarios use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.domain.claims import CLAIM_OF, CLAIMS

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "docs" / "observables.md"
KEYWORDS = re.compile(r"^\s*(Given|When|Then|And|But)\s+(.*\S)\s*$")


def rows(text: str) -> list[tuple[str, str, str]]:
    """(claim, observable, step) of each table row."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"QM-\d\d", cells[0]):
            out.append((cells[0], cells[1], cells[2]))
    return out


def steps_by_claim(features: Path) -> dict[str, set[str]]:
    """The step texts used by the scenarios of each claim tag, across the feature files."""
    found: dict[str, set[str]] = {}
    for path in sorted(features.glob("*.feature")):
        claim = None
        background: set[str] = set()
        in_background = False
        for line in path.read_text(encoding="utf-8").splitlines():
            tag = re.search(r"@claim:(QM-\d\d)", line)
            if tag:
                claim, in_background = tag.group(1), False
                found.setdefault(claim, set()).update(background)
                continue
            if line.strip().startswith("Background:"):
                in_background = True
                continue
            step = KEYWORDS.match(line)
            if step is None:
                continue
            if in_background:
                background.add(step.group(2))
            elif claim is not None:
                found.setdefault(claim, set()).add(step.group(2))
    return found


def gaps(table: str, features: Path) -> list[str]:
    """Every way the table fails to tie a claim's observables to checks."""
    problems = []
    used = steps_by_claim(features)
    table_rows = rows(table)
    for claim in CLAIMS:
        if not any(r[0] == claim for r in table_rows):
            problems.append(f"{claim}: no observable listed")
    for claim, observable, step in table_rows:
        if not step or step in ("-", "—"):
            problems.append(f"{claim}: {observable!r} has no check")
        elif step.startswith("invariant:"):
            name = step.split(":", 1)[1].strip()
            if CLAIM_OF.get(name) != claim:
                problems.append(f"{claim}: {observable!r}: no move invariant {name!r} backs it")
        elif step not in used.get(claim, set()):
            problems.append(f"{claim}: {observable!r}: no {claim} scenario uses step {step!r}")
    return problems


def test_every_observable_of_every_claim_has_a_check() -> None:
    assert gaps(TABLE.read_text(encoding="utf-8"), REPO / "features") == []


def test_a_missing_check_is_a_gap(tmp_path: Path) -> None:
    table = TABLE.read_text(encoding="utf-8")
    # A row without a step, a step no scenario of the claim uses, and a claim with no row.
    broken = table.replace(
        "| QM-14 | KVP `PhysicalHostNameFullyQualified` shows the target (fully qualified form) "
        "| the guest's KVP host name shows the target node within the allowed time |",
        "| QM-14 | KVP `PhysicalHostNameFullyQualified` shows the target (fully qualified form) "
        "| - |",
    )
    assert broken != table
    broken = re.sub(r"\| QM-22 \|[^\n]*\n", "", broken)
    broken += "| QM-05 | an observable | a step nobody wrote |\n"
    found = gaps(broken, REPO / "features")
    assert any("QM-14" in p and "no check" in p for p in found)
    assert any(p.startswith("QM-22: no observable") for p in found)
    assert any("a step nobody wrote" in p for p in found)


@pytest.mark.parametrize("claim", sorted(set(CLAIM_OF.values())))
def test_every_invariant_claim_is_listed_as_judged_on_every_move(claim: str) -> None:
    listed = {r[2] for r in rows(TABLE.read_text(encoding="utf-8")) if r[0] == claim}
    assert any(s.startswith("invariant:") for s in listed) or claim == "QM-07"
