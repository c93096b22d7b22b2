"""The run journal: JSON lines fsynced before every disruptive action, read back by recover."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import InputError

JOURNAL_FILE = "journal.jsonl"


def utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Journal:
    """Append-only JSON lines; every entry is written in one write and fsynced before returning.

    One `os.write` per entry on an O_APPEND descriptor keeps entries of several writers (pytest
    workers of one run) whole; `seq` numbers the entries of this writer.
    """

    def __init__(self, path: Path, writer: str = "main") -> None:
        self.path = path
        self.writer = writer
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seq = 0
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one entry and flush it to disk; returns the entry."""
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "utc": utc_now(), "writer": self.writer, "kind": kind}
            entry.update(fields)
            data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            os.write(self._fd, data)
            os.fsync(self._fd)
            return entry

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


MAX_JOURNAL_LINE = 1 << 20  # one entry (qmaudit writes a few hundred bytes)
MAX_JOURNAL_ENTRIES = 1_000_000
_TEXT_FIELDS = ("kind", "vm", "node", "owner", "state", "undo")


def _usable(entry: Any) -> bool:
    """An entry qmaudit could have written: an object whose names are text (ids may be ints)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
        return False
    if any(entry.get(k) is not None and not isinstance(entry[k], str) for k in _TEXT_FIELDS):
        return False
    return entry.get("id") is None or isinstance(entry["id"], str | int)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every whole entry of a journal; a torn line (the run was killed mid-write), an entry of
    another shape or an over-long line is skipped. Streamed; a special file is an InputError."""
    entries: list[dict[str, Any]] = []
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise InputError(str(path), "", "the journal is not a regular file")
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read the journal: {exc.strerror}") from None
    with handle:
        while len(entries) < MAX_JOURNAL_ENTRIES:
            line = handle.readline(MAX_JOURNAL_LINE + 1)
            if not line:
                break
            if len(line) > MAX_JOURNAL_LINE:
                while line and not line.endswith(b"\n"):
                    line = handle.readline(MAX_JOURNAL_LINE)
                continue
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if _usable(entry):
                entries.append(entry)
    return entries


@dataclass
class Original:
    """Where a VM was (or what a node was) before the run touched it."""

    name: str
    owner: str | None = None
    state: str | None = None
    undo: str | None = None  # nodes: "resume" (drained) or "power_on" (crashed)


@dataclass
class JournalState:
    """What a journal says is still to be undone."""

    header: dict[str, Any] = field(default_factory=dict)
    vms: dict[str, Original] = field(default_factory=dict)
    nodes: dict[str, Original] = field(default_factory=dict)
    open_actions: list[dict[str, Any]] = field(default_factory=list)
    actions: int = 0
    untrusted: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every remembered VM and node was restored and no action was left in flight."""
        return not self.vms and not self.nodes and not self.open_actions


def journal_state(entries: list[dict[str, Any]]) -> JournalState:
    """Fold the entries in file order: the first remembered original of a VM is the true one."""
    state = JournalState()
    open_by_id: dict[str, dict[str, Any]] = {}
    for entry in entries:
        kind = entry["kind"]
        if kind == "header" and not state.header:
            state.header = entry
        elif kind == "remember" and entry.get("vm") and entry.get("leased") is False:
            # Recorded while another run may have owned the cluster: not a trustworthy original.
            state.untrusted.append(entry["vm"])
        elif kind == "remember" and entry.get("vm"):
            state.vms.setdefault(
                entry["vm"], Original(entry["vm"], entry.get("owner"), entry.get("state"))
            )
        elif kind == "remember" and entry.get("node"):
            state.nodes.setdefault(entry["node"], Original(entry["node"], undo=entry.get("undo")))
        elif kind == "action":
            state.actions += 1
            open_by_id[str(entry.get("id"))] = entry
        elif kind == "done":
            open_by_id.pop(str(entry.get("id")), None)
        elif kind == "restored" and entry.get("ok"):
            if entry.get("vm"):
                state.vms.pop(entry["vm"], None)
            if entry.get("node"):
                state.nodes.pop(entry["node"], None)
    state.open_actions = list(open_by_id.values())
    return state


def load_state(path: Path) -> JournalState:
    return journal_state(read_journal(path))
