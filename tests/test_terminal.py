"""Terminal output: control characters of remote text escaped, registered secrets masked."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.redact import clear_secrets, register_secret
from harness.terminal import RedactingStream, printable


def test_escape_sequences_are_shown_not_run() -> None:
    text = "vm\x1b[2J\x1b]0;owned\x07 name\r\x9b31m\u202eevil"
    out = printable(text)
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\x9b" not in out
    assert "\u202e" not in out
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert printable("line one\nline\ttwo") == "line one\nline\ttwo"


def test_stream_masks_and_escapes() -> None:
    clear_secrets()
    register_secret("S3cr3t-Pass!word")
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write('error at node: "S3cr3t-Pass!word" \x1b[31mred\n')
    clear_secrets()
    assert "S3cr3t" not in sink.getvalue()
    assert "\x1b" not in sink.getvalue() and sink.getvalue().endswith("red\n")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_printable_never_leaves_a_control_character(text: str) -> None:
    out = printable(text)
    assert all(ch in "\n\t" or (ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F) for ch in out)


def test_log_messages_are_masked_when_made() -> None:
    import logging

    from harness.terminal import guard_streams

    clear_secrets()
    register_secret("L0g-S3cret!x")
    stdout, stderr = __import__("sys").stdout, __import__("sys").stderr
    old = logging.getLogRecordFactory()
    try:
        guard_streams()
        record = logging.getLogger("qm.test").makeRecord(
            "qm.test", logging.ERROR, __file__, 1, "auth failed for %s", ("L0g-S3cret!x",), None
        )
        assert "L0g-S3cret" not in record.getMessage() and "********" in record.getMessage()
    finally:
        logging.setLogRecordFactory(old)
        __import__("sys").stdout, __import__("sys").stderr = stdout, stderr
        clear_secrets()


def test_cli_escapes_remote_and_file_text(tmp_path: Path) -> None:
    """Through the real entry point: an escape sequence in a name reaches the terminal escaped."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    bad = tmp_path / "topo\x1b]0;owned\x07\x1b[2J.yaml"
    bad.write_text("cluster: [\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lab", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "\\x1b]0;owned\\x07" in proc.stderr
