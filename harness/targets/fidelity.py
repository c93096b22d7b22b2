"""The Windows fidelity ledger (docs/windows-fidelity.md): its rows, and the unverified ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import harness
from harness.errors import InputError

LEDGER = "windows-fidelity.md"
STATUSES = ("confirmed", "unverified")


@dataclass(frozen=True)
class LedgerRow:
    """One fact about Windows the harness relies on."""

    section: str
    fact: str
    source: str
    status: str
    pinned_by: str
    line: int


def ledger_path() -> Path | None:
    """The ledger the wheel carries (harness/docs/), else the checkout's docs/; None if neither."""
    package = Path(harness.__file__).resolve().parent
    for candidate in (package / "docs" / LEDGER, package.parent / "docs" / LEDGER):
        # A checkout made where git cannot create symlinks (Windows by default) holds the link's
        # target path as text in harness/docs/: not the ledger, so the checkout's docs/ is read.
        if candidate.is_file() and "|" in _head(candidate):
            return candidate
    return None


def _head(path: Path) -> str:
    """The first 4 KB of a file as text ("" if unreadable)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""


def _cells(line: str) -> list[str]:
    # A Markdown table row: | a | b | c |; a literal pipe inside a cell is written \|.
    body = line.strip().removeprefix("|").removesuffix("|")
    cells = body.replace("\\|", "\0").split("|")
    return [c.replace("\0", "|").strip() for c in cells]


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index] if index is not None else ""


def parse_ledger(text: str, source: str) -> list[LedgerRow]:
    """Every row of every `fact | source | status | pinned by` table (InputError on a bad one)."""
    rows: list[LedgerRow] = []
    section = ""
    columns: dict[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            section, columns = stripped.lstrip("#").strip(), None
            continue
        if not stripped.startswith("|"):
            columns = None
            continue
        cells = _cells(stripped)
        if columns is None:
            names = [c.casefold() for c in cells]
            if "fact" in names and "status" in names:
                columns = {name: index for index, name in enumerate(names)}
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the |---|---| line under the header
        if len(cells) != len(columns):
            raise InputError(
                source, f"line {number}", f"{len(cells)} cells, the table has {len(columns)}"
            )
        status = cells[columns["status"]]
        if status not in STATUSES:
            raise InputError(
                source,
                f"line {number}",
                f"status {status!r} must be literally 'confirmed' or 'unverified'",
            )
        rows.append(
            LedgerRow(
                section,
                _cell(cells, columns, "fact"),
                _cell(cells, columns, "source"),
                status,
                _cell(cells, columns, "pinned by"),
                number,
            )
        )
    return rows


def unverified_facts(path: Path | None = None) -> list[LedgerRow]:
    """The rows whose status is unverified: what the first run on a real cluster tests."""
    path = path or ledger_path()
    if path is None:
        return []
    text = path.read_text(encoding="utf-8")
    return [row for row in parse_ledger(text, str(path)) if row.status == "unverified"]


def render_unverified(rows: list[LedgerRow]) -> str:
    """One line per unverified fact, as check-inventory prints them."""
    return "\n".join(f"unverified on Windows: {row.fact}" for row in rows)
