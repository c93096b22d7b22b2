"""The lab endpoint runs commands like WinRS: cmd.exe's 8,191-character limit, stdin via Send."""

from __future__ import annotations

import base64

import pytest
from winrm.exceptions import WinRMOperationTimeoutError
from winrm.protocol import Protocol

from harness.lab.wsman import LabCredentials, WSManListener
from harness.transport.delivery import CMD_MAX_CHARS, ScriptDelivery, encode_command


def _protocol(listener: WSManListener, creds: LabCredentials) -> Protocol:
    return Protocol(
        listener.url,
        transport="ntlm",
        username=creds.qualified_username,
        password=creds.password,
        operation_timeout_sec=1,
        read_timeout_sec=3,
    )


def test_command_line_over_8191_characters_is_refused(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    script = "'" + "x" * 5000 + "'"
    cid = p.run_command(shell, "powershell", ["-encodedcommand", encode_command(script)])
    out, err, code = p.get_command_output(shell, cid)
    assert (out, err, code) == (b"", b"The command line is too long.\r\n", 1)
    p.close_shell(shell)


@pytest.mark.parametrize(("extra", "refused"), [(0, False), (1, True)])
def test_limit_is_exactly_8191(
    listener: WSManListener, creds: LabCredentials, extra: int, refused: bool
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    args = ["-EncodedCommand", encode_command("'x'")]
    base = len(" ".join(["powershell", *args]))
    # An extra trailing argument of spaces brings the line to 8,191 (+ extra) characters.
    filler = " " * (CMD_MAX_CHARS - base - 1 + extra)
    cid = p.run_command(shell, "powershell", [*args, filler])
    _out, err, code = p.get_command_output(shell, cid)
    assert (code == 1 and err == b"The command line is too long.\r\n") is refused
    p.close_shell(shell)


def test_skip_cmd_shell_has_no_cmd_exe_limit(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    script = "'" + "x" * 5000 + "'"
    cid = p.run_command(
        shell, "powershell", ["-encodedcommand", encode_command(script)], skip_cmd_shell=True
    )
    out, _err, code = p.get_command_output(shell, cid)
    assert code == 0 and out.decode() == f"HV-T|{script}"
    p.close_shell(shell)


def _start_bootstrap(p: Protocol, shell: str, script: str) -> tuple[str, ScriptDelivery]:
    delivery = ScriptDelivery.of(script)
    cid = p.run_command(shell, delivery.command, list(delivery.arguments), console_mode_stdin=False)
    return cid, delivery


def test_bootstrap_runs_the_script_from_stdin_in_chunks(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    script = "# Zoë ☃ 日本語\n" + "'" + "y" * 30000 + "'"
    cid, delivery = _start_bootstrap(p, shell, script)
    half = len(delivery.stdin) // 2
    p.send_command_input(shell, cid, delivery.stdin[:half], end=False)
    p.send_command_input(shell, cid, delivery.stdin[half:], end=True)
    out, err, code = p.get_command_output(shell, cid)
    assert (code, err) == (0, b"")
    assert out.decode("utf-8") == f"HV-T|{script}"
    p.close_shell(shell)


def test_bootstrap_waits_for_end_of_stdin(listener: WSManListener, creds: LabCredentials) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    cid, delivery = _start_bootstrap(p, shell, "'late'")
    p.send_command_input(shell, cid, delivery.stdin, end=False)
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, cid)  # not run yet: stdin is still open
    p.send_command_input(shell, cid, b"", end=True)
    out, _err, code = p.get_command_output(shell, cid)
    assert (code, out) == (0, b"HV-T|'late'")
    p.close_shell(shell)


def test_bootstrap_with_stdin_that_is_not_base64_fails_like_powershell(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    cid, _ = _start_bootstrap(p, shell, "x")
    p.send_command_input(shell, cid, b"not base64 at all!\r\n", end=True)
    _out, err, code = p.get_command_output(shell, cid)
    assert code == 1 and b"FromBase64String" in err and err.startswith(b"#< CLIXML")
    p.close_shell(shell)


def test_bootstrap_with_empty_stdin_runs_nothing(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    cid, _ = _start_bootstrap(p, shell, "x")
    p.send_command_input(shell, cid, b"", end=True)
    assert p.get_command_output(shell, cid) == (b"", b"", 0)
    p.close_shell(shell)


def test_stdin_of_a_command_that_reads_none_is_dropped(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = _protocol(listener, creds)
    shell = p.open_shell()
    cid = p.run_command(shell, "powershell", ["-encodedcommand", encode_command("'z'")])
    p.send_command_input(shell, cid, base64.b64encode(b"'other'"), end=True)
    assert p.get_command_output(shell, cid) == (b"HV-T|'z'", b"", 0)
    p.close_shell(shell)
