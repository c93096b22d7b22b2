"""Decode PowerShell's CLIXML stderr into plain text: keep error and warning text, drop progress."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

_HEADER = "#< CLIXML"
_OBJS = re.compile(r"<Objs\b.*?</Objs>", re.DOTALL)
# Fallback when a document is not well-formed: the string records, attributes in any order.
_S_RECORD = re.compile(r"<S\b[^>]*\bS=\"([^\"]*)\"[^>]*>([^<]*)")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Which string streams a human wants to read; progress arrives as <Obj S="progress">.
_KEEP = {"error": "", "warning": "WARNING: "}


def _unescape(text: str) -> str:
    """Undo XmlConvert's _xHHHH_ escaping (CR/LF, control chars, surrogate halves, '_')."""
    decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    # Non-BMP characters arrive as two escaped surrogate halves; join them.
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _records(document: str) -> list[tuple[str, str]]:
    """(stream, text) of each top-level <S> of one <Objs> document."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return [(stream, html.unescape(text)) for stream, text in _S_RECORD.findall(document)]
    return [(child.get("S", ""), child.text or "") for child in root if _local(child.tag) == "S"]


def decode_clixml(data: bytes | str) -> str:
    """Plain text of a stderr stream; text that is not CLIXML is returned as it is."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith(_HEADER):
        return text.strip()
    body = stripped[len(_HEADER) :]
    documents = _OBJS.findall(body)
    if not documents:
        # A header and nothing parseable: show what came, minus the marker.
        return body.strip()
    lines: list[str] = []
    for document in documents:
        for stream, raw in _records(document):
            prefix = _KEEP.get(stream.lower())
            if prefix is None:
                continue
            lines.append(prefix + _unescape(raw))
    joined = "".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    return joined.strip()


# Where an error record's message ends: PowerShell appends the script position and category.
_RECORD_TAIL = re.compile(
    r"^(At (line:\d+|.+:\d+) char:\d+|\s+\+ (CategoryInfo|FullyQualifiedErrorId)\b)", re.MULTILINE
)


def error_message(text: str) -> str:
    """The message of a decoded PowerShell error record, without position and category lines."""
    match = _RECORD_TAIL.search(text)
    head = text[: match.start()].strip() if match else text.strip()
    return head or text.strip()
