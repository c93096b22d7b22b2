"""docs/claims.md covers every claim, and every scenario it lists exists with that claim."""

from __future__ import annotations

import re
from pathlib import Path

from harness.domain.claims import CLAIM_TITLES, CLAIMS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "claims.md"
SCENARIO_LINE = re.compile(r"^\s+- `(?P<file>[\w.]+\.feature)`: (?P<name>.+)$")


def _sections() -> dict[str, str]:
    parts = re.split(r"^## (QM-\d\d) .*$", DOC.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _feature_scenarios() -> dict[tuple[str, str], str]:
    """(feature file, scenario name) -> the claim of its @claim tag."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted((ROOT / "features").glob("*.feature")):
        pending: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("@"):
                pending += text.split()
            elif text.startswith("Feature:"):
                pending = []
            elif text.startswith(("Scenario:", "Scenario Outline:")):
                claims = [t.split(":", 1)[1] for t in pending if t.startswith("@claim:")]
                out[(path.name, text.split(":", 1)[1].strip())] = claims[0] if claims else ""
                pending = []
    return out


def test_every_claim_has_a_section_with_every_part() -> None:
    sections = _sections()
    assert list(sections) == CLAIMS
    headings = re.findall(r"^## (QM-\d\d) (.+)$", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert dict(headings) == CLAIM_TITLES
    for claim, body in sections.items():
        for part in ("**Source.**", "**On a real cluster.**", "**How qmaudit checks it.**"):
            assert part in body, f"{claim}: {part} missing"


def test_every_listed_scenario_exists_under_its_claim() -> None:
    scenarios = _feature_scenarios()
    listed: set[tuple[str, str]] = set()
    for claim, body in _sections().items():
        found = [
            (m["file"], m["name"].strip()) for m in map(SCENARIO_LINE.match, body.splitlines()) if m
        ]
        assert found, f"{claim}: no scenario listed"
        for key in found:
            assert key in scenarios, f"{claim}: {key} is not a scenario of features/"
            assert scenarios[key] == claim, f"{claim}: {key} is tagged {scenarios[key]}"
        listed |= set(found)
    # And every scenario of the features is listed under its claim.
    assert listed == set(scenarios)
