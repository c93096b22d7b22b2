"""CLIXML stderr decoding: error text kept, progress dropped, escapes undone, never raises."""

from __future__ import annotations

import pytest

from harness.transport.clixml import decode_clixml, error_message

NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'
PROGRESS = (
    f'<Objs Version="1.1.0.1" {NS}><Obj S="progress" RefId="0"><TN RefId="0">'
    "<T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>"
    '<I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV>'
    "<AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR>"
    "</MS></Obj></Objs>"
)
THROW = (
    f'<Objs Version="1.1.0.1" {NS}>'
    '<S S="Error">The cluster node was not found (Win32 error 5042)_x000D__x000A_</S>'
    '<S S="Error">At line:9 char:5_x000D__x000A_</S>'
    "<S S=\"Error\">+     throw 'x'_x000D__x000A_</S></Objs>"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # plain text passes through
        (b"plain error\r\n", "plain error"),
        (b"", ""),
        # a thrown error, CRLF escapes undone, lines kept
        (
            ("#< CLIXML\r\n" + THROW).encode(),
            "The cluster node was not found (Win32 error 5042)\nAt line:9 char:5\n+     throw 'x'",
        ),
        # progress first (a second <Objs> document), then the error: progress dropped
        (
            ("#< CLIXML\r\n" + PROGRESS + THROW).encode(),
            "The cluster node was not found (Win32 error 5042)\nAt line:9",
        ),
        # only progress: nothing to say
        (("#< CLIXML\r\n" + PROGRESS).encode(), ""),
        # warnings prefixed like the console does
        (
            f'#< CLIXML\r\n<Objs {NS}><S S="warning">careful_x000D__x000A_</S></Objs>'.encode(),
            "WARNING: careful",
        ),
        # verbose/debug streams are not error text
        (f'#< CLIXML\r\n<Objs {NS}><S S="verbose">chatty</S></Objs>'.encode(), ""),
        # XML entities, literal underscore escape, non-ASCII and a surrogate pair
        (
            (
                f'#< CLIXML\r\n<Objs {NS}><S S="Error">'
                "VM &apos;Zoë&apos; &lt;a&gt; _x005F_x _xD83D__xDE00_</S></Objs>"
            ).encode(),
            "VM 'Zoë' <a> _x \U0001f600",
        ),
        # broken XML: the error strings are still recovered
        (
            b'#< CLIXML\r\n<Objs><S S="Error">half &amp; broken<S S="Error">x</S></Objs>',
            "half & brokenx",
        ),
        # header without documents: what came, minus the marker
        (b"#< CLIXML\r\nsomething odd", "something odd"),
        # UTF-8 BOM before the header
        (("\ufeff#< CLIXML\r\n" + THROW).encode(), "The cluster node was not found (Win32"),
    ],
)
def test_decode_table(raw: bytes, expected: str) -> None:
    decoded = decode_clixml(raw)
    # Cases that carry the whole PowerShell error record are checked by their first line.
    assert decoded == expected or (len(expected) > 20 and decoded.startswith(expected))
    assert "_x000D_" not in decoded
    assert "<Obj" not in decoded


def test_progress_text_is_dropped() -> None:
    decoded = decode_clixml(("#< CLIXML\r\n" + PROGRESS + THROW).encode())
    assert "Preparing modules" not in decoded
    assert decoded.startswith("The cluster node was not found (Win32 error 5042)\n")


def test_str_input_and_invalid_utf8_do_not_raise() -> None:
    assert decode_clixml("#< CLIXML\r\n" + THROW).startswith("The cluster node")
    assert decode_clixml(b"\xff\xfe bad bytes").endswith("bad bytes")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The cluster node was not found (Win32 error 5042)\nAt line:9 char:5\n+ throw $m\n"
            "+ ~~~~~~~~\n    + CategoryInfo          : OperationStopped: (x:String) [], "
            "RuntimeException\n    + FullyQualifiedErrorId : x",
            "The cluster node was not found (Win32 error 5042)",
        ),
        ("two\nlines\nAt C:\\probes\\p.ps1:12 char:1\n+ x", "two\nlines"),
        ("msg\n    + CategoryInfo          : NotSpecified", "msg"),
        ("no record tail at all", "no record tail at all"),
        ("At line:1 char:1\n+ x", "At line:1 char:1\n+ x"),
    ],
)
def test_error_message_drops_position_and_category(text: str, expected: str) -> None:
    assert error_message(text) == expected
