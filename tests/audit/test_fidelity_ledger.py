"""docs/windows-fidelity.md stays machine-readable and covers the event vocabulary."""

from __future__ import annotations

import re
from pathlib import Path

from harness.domain.events import SPECS

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "windows-fidelity.md"
HEADER = ["fact", "source", "status", "pinned by"]


def _cells(line: str) -> list[str]:
    # Split on the column bars only: a backslash-escaped or code-quoted bar is not one.
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _tables() -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    section = ""
    for line in LEDGER.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            tables[section] = []
        elif line.startswith("|") and section:
            tables[section].append(_cells(line))
    return tables


def test_every_section_is_one_four_column_table_with_a_literal_status() -> None:
    tables = _tables()
    assert tables
    for section, rows in tables.items():
        assert rows[0] == HEADER, section
        assert set(rows[1]) == {"---"}, section
        for row in rows[2:]:
            assert len(row) == 4, (section, row)
            assert row[2] in ("confirmed", "unverified"), (section, row)
            assert row[0] and row[1] and row[3], (section, row)


def test_every_pinning_test_file_exists() -> None:
    for section, rows in _tables().items():
        for row in rows[2:]:
            target = row[3].split("::", 1)[0].split(" ", 1)[0]
            if target.startswith("tests/"):
                assert (ROOT / target).is_file(), (section, row[3])


def test_every_event_the_audit_reads_has_a_row() -> None:
    events = "\n".join(" ".join(r) for r in _tables()["Event logs"])
    for event_id in SPECS:
        assert str(int(event_id)) in events, event_id
