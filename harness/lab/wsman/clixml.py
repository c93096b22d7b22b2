"""CLIXML stderr as powershell.exe -EncodedCommand writes it for an uncaught `throw`."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

_HEADER = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
)
_ESCAPED_UNDERSCORE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_THROW = re.compile(r"\bthrow\b", re.IGNORECASE)


def encode_text(text: str) -> str:
    """PowerShell's string encoding in CLIXML: XML entities plus _xHHHH_ for control characters."""
    text = _ESCAPED_UNDERSCORE.sub("_x005F_", text)
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or 0xFFFE <= code <= 0xFFFF or 0xD800 <= code <= 0xDFFF:
            out.append(f"_x{code:04X}_")
        else:
            out.append(ch)
    return escape("".join(out))


def _ellipsize(text: str) -> str:
    # ErrorCategoryInfo shortens long target names to 15 + "..." + 15 characters.
    return text if len(text) <= 40 else f"{text[:15]}...{text[-15:]}"


def _position(script: str, message: str) -> tuple[int, int, str]:
    """Line, column and text of the `throw` most likely to have raised `message`.

    The error record points at the throw statement; the lab does not run the script, so it
    picks the throw sharing most words with the message (the last one on a tie).
    """
    words = set(re.findall(r"\w+", message.lower()))
    best: tuple[int, int, int, str] | None = None
    for number, line in enumerate(script.splitlines(), start=1):
        match = _THROW.search(line)
        if not match or line.lstrip().startswith("#"):
            continue
        score = len(words & set(re.findall(r"\w+", line[match.end() :].lower())))
        if best is None or score >= best[0]:
            best = (score, number, match.start() + 1, line.rstrip())
    if best is None:
        first = script.splitlines()[0].rstrip() if script.strip() else ""
        return 1, 1, first
    return best[1], best[2], best[3]


def error_lines(message: str, script: str) -> list[str]:
    """The console lines of an uncaught RuntimeException from `throw "<message>"`."""
    line_no, column, source = _position(script, message)
    underline = " " * (column - 1) + "~" * max(1, len(source) - column + 1)
    flat = " ".join(message.split())
    return [
        *message.splitlines(),
        f"At line:{line_no} char:{column}",
        f"+ {source}",
        f"+ {underline}",
        f"    + CategoryInfo          : OperationStopped: ({_ellipsize(flat)}:String) [], "
        "RuntimeException",
        f"    + FullyQualifiedErrorId : {flat}",
        " ",
    ]


def throw_stderr(message: str, script: str = "") -> bytes:
    """The bytes powershell.exe writes to stderr for the uncaught throw (exit code 1)."""
    records = "".join(
        f'<S S="Error">{encode_text(line + chr(13) + chr(10))}</S>'
        for line in error_lines(message, script)
    )
    return (_HEADER + records + "</Objs>").encode("utf-8")


def plain_stderr(message: str) -> bytes:
    """Errors powershell.exe reports before running any script are plain console text."""
    return (message.rstrip("\r\n") + "\r\n").encode("utf-8")
