"""The journal: one fsynced line per entry, torn last line tolerated, completeness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness.audit.journal as journal_mod
from harness.audit.journal import Journal, journal_state, read_journal
from harness.exits import command_name
from harness.run.interrupt import journal_verdict


def test_every_entry_is_fsynced_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = journal_mod.os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(journal_mod.os, "fsync", fsync)
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write("header", target_spec="x.yaml")
    journal.write("remember", vm="a", owner="N1", state="Running")
    # Visible to another reader before close: the bytes are on disk, not in a buffer.
    assert [e["kind"] for e in read_journal(tmp_path / "journal.jsonl")] == ["header", "remember"]
    assert len(synced) == 2
    journal.close()


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.write("remember", vm="a", owner="N1", state="Running")
    journal.write("action", id="1", action="move", vms=[], nodes=[], to="N2")
    journal.close()
    with path.open("ab") as f:
        f.write(b'{"seq":3,"kind":"done","id":"1"')  # killed mid-write
    entries = read_journal(path)
    assert [e["kind"] for e in entries] == ["remember", "action"]
    state = journal_state(entries)
    assert not state.complete and [a["id"] for a in state.open_actions] == ["1"]


def _entries(*rows: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seq": i, "kind": kind, **fields} for i, (kind, fields) in enumerate(rows)]


def test_first_original_wins_and_restored_closes() -> None:
    entries = _entries(
        ("remember", {"vm": "a", "owner": "N1", "state": "Running"}),
        ("action", {"id": "1", "vms": []}),
        ("done", {"id": "1", "ok": True}),
        ("restored", {"vm": "a", "ok": False}),
        # A later scenario sees the VM where the failed restore left it: not the original.
        ("remember", {"vm": "a", "owner": "N2", "state": "Running"}),
        ("remember", {"node": "N3", "undo": "resume"}),
    )
    state = journal_state(entries)
    assert state.vms["a"].owner == "N1" and state.nodes["N3"].undo == "resume"
    assert not state.complete
    closed = journal_state(
        entries
        + _entries(("restored", {"vm": "a", "ok": True}), ("restored", {"node": "N3", "ok": True}))
    )
    assert closed.complete and closed.actions == 1


def test_verdict_names_what_is_left(tmp_path: Path) -> None:
    assert journal_verdict(tmp_path)[0] is True
    (tmp_path / "journal.jsonl").write_text(
        json.dumps({"kind": "remember", "vm": "web 01", "owner": "N1", "state": "Running"}) + "\n"
    )
    ok, text = journal_verdict(tmp_path)
    assert not ok and "web 01" in text and f"{command_name()} recover {tmp_path}" in text
