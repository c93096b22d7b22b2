"""Text bound for a terminal: control characters escaped, secrets masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TextIO

from harness.redact import redact

# C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides that reorder text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = True) -> str:
    """`text` safe to print: escape sequences and other control characters shown as \\xNN."""
    value = str(text)
    value = _CONTROL.sub(_escape, value)
    if not keep_newlines:
        value = value.replace("\n", "\\n").replace("\t", "\\t")
    return value


class RedactingStream:
    """A text stream that masks every registered secret and escapes control characters
    (remote text: captures, probe errors, names) before writing to the one it wraps."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(printable(redact(text)))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _redacting_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            return record
        record.msg, record.args = redact(message), None
        return record

    factory.qm_redacting = True  # type: ignore[attr-defined]
    return factory


def guard_streams() -> None:
    """Wrap sys.stdout and sys.stderr (once) so no registered secret reaches the terminal,
    and mask every log message when it is made (whatever handler then writes it)."""
    import sys

    current = logging.getLogRecordFactory()
    if not getattr(current, "qm_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
