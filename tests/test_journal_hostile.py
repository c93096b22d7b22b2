"""A run folder's journal of any shape: entries are skipped or folded, never an exception;
a special file is refused (exit 2), and `qmaudit recover` never tracebacks on it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.audit.journal import JOURNAL_FILE, journal_state, read_journal
from harness.cli import main
from harness.errors import InputError

VALUE = st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.lists(st.integers())
ENTRY = st.fixed_dictionaries(
    {"kind": st.sampled_from(["header", "remember", "action", "done", "restored"]) | VALUE},
    optional={k: VALUE for k in ("vm", "node", "owner", "state", "undo", "id", "ok", "leased")},
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(ENTRY | VALUE, max_size=8), tail=st.binary(max_size=30))
def test_any_journal_folds_without_exception(
    tmp_path_factory: pytest.TempPathFactory, lines: list[Any], tail: bytes
) -> None:
    path = tmp_path_factory.mktemp("j") / JOURNAL_FILE
    path.write_bytes(b"\n".join(json.dumps(x).encode() for x in lines) + b"\n" + tail)
    state = journal_state(read_journal(path))
    assert isinstance(state.complete, bool)


def test_deep_and_long_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    good = json.dumps({"kind": "remember", "vm": "qm-a", "owner": "HV1"})
    path.write_text("[" * 200_000 + "\n" + "x" * (2 << 20) + "\n" + good + "\n", encoding="utf-8")
    assert [e["vm"] for e in read_journal(path)] == ["qm-a"]


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs")
def test_fifo_or_symlink_journal_refused(tmp_path: Path) -> None:
    fifo = tmp_path / JOURNAL_FILE
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_journal(fifo)
    fifo.unlink()
    fifo.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        read_journal(fifo)


def test_recover_on_a_garbage_journal_is_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "20260101T000000Z-abcd"
    run.mkdir()
    (run / JOURNAL_FILE).write_text(
        '{"kind": "header", "target_spec": {"x": 1}}\n{"kind": "remember", "vm": ["a"]}\n'
        '{"kind": "remember", "vm": "qm-a", "owner": "HV1", "state": "Running"}\n',
        encoding="utf-8",
    )
    rc = main(["recover", str(run)])
    err = capsys.readouterr().err
    assert rc in (0, 2, 4) and "Traceback" not in err
