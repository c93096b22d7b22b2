"""Event ids are written only in the vocabulary (harness/domain/events.py): code names them."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.domain.events import EventId

REPO = Path(__file__).resolve().parents[2]
VOCABULARY = REPO / "harness" / "domain" / "events.py"


def literal_event_ids(path: Path) -> list[str]:
    """Integer literals equal to an audited event id in the code of `path` (not comments)."""
    ids = {int(e) for e in EventId}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in ids
    ]


def test_no_literal_event_id_outside_the_vocabulary() -> None:
    files = [*(REPO / "harness").rglob("*.py"), *(REPO / "steps").rglob("*.py")]
    found = [hit for path in files if path != VOCABULARY for hit in literal_event_ids(path)]
    assert found == []


def test_the_check_sees_a_literal(tmp_path: Path) -> None:
    sample = REPO / "tests" / "domain" / "_sample_literal.py"
    sample.write_text("offline = [e for e in events if e.id == 1204]\n")
    try:
        assert literal_event_ids(sample) == ["tests/domain/_sample_literal.py:1: 1204"]
    finally:
        sample.unlink()
