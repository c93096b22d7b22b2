"""The fidelity ledger: parsed strictly, found in the wheel or the checkout, unverified listed."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.errors import InputError
from harness.targets import fidelity
from harness.targets.fidelity import ledger_path, parse_ledger, render_unverified, unverified_facts
from harness.targets.preflight import unverified_note

LEDGER = """# Ledger

Intro text | not a table row.

## Events

| fact | source | status | pinned by |
| --- | --- | --- | --- |
| 1641 has `a \\| b` forms | https://example.invalid/a | confirmed | tests/x.py::t |
| 1201 is in Operational | none found | unverified | tests/y.py::t |

## Other table (ignored)

| name | value |
| --- | --- |
| x | y |

## Paths

| fact | source | status | pinned by |
|---|---|---|---|
| data.vmcx is host-wide | https://example.invalid/b | unverified | tests/z.py::t |
"""


def test_rows_sections_and_escaped_pipes() -> None:
    rows = parse_ledger(LEDGER, "ledger.md")
    assert [(r.section, r.status) for r in rows] == [
        ("Events", "confirmed"),
        ("Events", "unverified"),
        ("Paths", "unverified"),
    ]
    assert rows[0].fact == "1641 has `a | b` forms"
    assert rows[2].pinned_by == "tests/z.py::t"


def test_unverified_rows_are_rendered_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "windows-fidelity.md"
    path.write_text(LEDGER, encoding="utf-8")
    assert render_unverified(unverified_facts(path)).splitlines() == [
        "unverified on Windows: 1201 is in Operational",
        "unverified on Windows: data.vmcx is host-wide",
    ]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("| x | s | Confirmed | t |", "must be literally 'confirmed' or 'unverified'"),
        ("| x | s | maybe | t |", "must be literally"),
        ("| x | s | confirmed |", "3 cells, the table has 4"),
    ],
)
def test_bad_rows_name_the_line(row: str, words: str) -> None:
    header = "## A\n\n| fact | source | status | pinned by |\n| --- | --- | --- | --- |\n"
    text = header + row + "\n"
    with pytest.raises(InputError) as caught:
        parse_ledger(text, "ledger.md")
    assert caught.value.location == "line 5" and words in caught.value.reason


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "site" / "harness"
    package.mkdir(parents=True)
    monkeypatch.setattr(harness, "__file__", str(package / "__init__.py"))
    return package


def test_the_wheel_copy_wins_over_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_package(tmp_path, monkeypatch)
    assert ledger_path() is None
    assert "was not found" in unverified_note()
    (tmp_path / "site" / "docs").mkdir()
    checkout = tmp_path / "site" / "docs" / fidelity.LEDGER
    checkout.write_text(LEDGER, encoding="utf-8")
    assert ledger_path() == checkout
    (package / "docs").mkdir()
    wheel = package / "docs" / fidelity.LEDGER
    wheel.write_text(LEDGER.replace("data.vmcx is host-wide", "from the wheel"), encoding="utf-8")
    assert ledger_path() == wheel
    assert "unverified on Windows: from the wheel" in unverified_note()


def test_the_repository_ledger_parses_and_has_unverified_rows() -> None:
    path = ledger_path()
    assert path is not None and path.name == "windows-fidelity.md"
    rows = parse_ledger(path.read_text(encoding="utf-8"), str(path))
    assert rows and any(r.status == "unverified" for r in rows)
