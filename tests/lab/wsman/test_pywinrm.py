"""pywinrm against the lab endpoint: NTLM with encryption, Basic, timeouts, shells, keep-alive."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from harness.lab.wsman import CommandOutcome, LabCredentials, WSManListener
from tests.wsman_fixtures import PERMISSIVE


def session(listener: WSManListener, creds: LabCredentials, transport: str) -> winrm.Session:
    user = creds.qualified_username if transport == "ntlm" else creds.username
    return winrm.Session(listener.url, auth=(user, creds.password), transport=transport)


def protocol(
    listener: WSManListener, creds: LabCredentials, transport: str = "ntlm", **kwargs: int
) -> Protocol:
    return Protocol(
        listener.url,
        transport=transport,  # type: ignore[arg-type]
        username=creds.qualified_username,
        password=creds.password,
        **kwargs,  # type: ignore[arg-type]
    )


def test_ntlm_round_trip_is_encrypted(listener: WSManListener, creds: LabCredentials) -> None:
    result = session(listener, creds, "ntlm").run_ps("Get-Date # ünïcode")
    assert result.status_code == 0
    assert result.std_out.decode() == "HV-T|Get-Date # ünïcode"
    assert listener.stats.requests == 5  # Create, Command, Receive, Signal, Delete
    assert listener.stats.encrypted_requests == 5
    assert listener.stats.plaintext_requests == 0
    assert all(ct.startswith("multipart/encrypted;") for ct in listener.stats.content_types)


def test_ntlm_user_without_domain(listener: WSManListener, creds: LabCredentials) -> None:
    s = winrm.Session(listener.url, auth=(creds.username, creds.password), transport="ntlm")
    assert s.run_ps("1").status_code == 0


def test_basic_round_trip(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE)
    result = session(listener, creds, "basic").run_ps("$x = 1")
    assert (result.status_code, result.std_out) == (0, b"HV-T|$x = 1")
    assert listener.stats.plaintext_requests == 5


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_wrong_password_is_rejected_at_once(
    make_listener: Callable[..., WSManListener], creds: LabCredentials, transport: str
) -> None:
    listener = make_listener(**PERMISSIVE)
    bad = winrm.Session(
        listener.url, auth=(creds.username, "not-the-password"), transport=transport
    )
    started = time.monotonic()
    with pytest.raises(InvalidCredentialsError):
        bad.run_ps("1")
    assert time.monotonic() - started < 5
    assert listener.stats.auth_failures >= 1
    assert listener.stats.requests == 0


def test_basic_disabled_listener_refuses_basic(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    ntlm_only = make_listener(auth=("ntlm",))
    with pytest.raises(InvalidCredentialsError):
        session(ntlm_only, creds, "basic").run_ps("1")
    assert session(ntlm_only, creds, "ntlm").run_ps("1").status_code == 0


def test_exit_code_and_stderr_pass_through(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(lambda node, script: CommandOutcome(7, b"partial", b"plain error"))
    result = session(listener, creds, "ntlm").run_ps("x")
    assert (result.status_code, result.std_out, result.std_err) == (7, b"partial", b"plain error")


def test_answer_that_raises_surfaces_its_message(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    def boom(node: str, script: str) -> CommandOutcome:
        raise RuntimeError("The cluster node was not found (Win32 error 5042)")

    result = session(make_listener(boom), creds, "ntlm").run_ps("throw 'x'")
    assert result.status_code == 1
    first_line = result.std_err.decode().splitlines()[0]
    assert first_line == "The cluster node was not found (Win32 error 5042)"


def test_large_output_arrives_in_several_receives(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    big = bytes(range(256)) * 1000  # 256 kB: more than one Receive chunk
    listener = make_listener(lambda node, script: CommandOutcome(0, big, b""))
    assert session(listener, creds, "ntlm").run_ps("x").std_out == big
    assert listener.stats.requests > 5


def test_slow_answer_gets_timeout_faults_then_the_result(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    def slow(node: str, script: str) -> CommandOutcome:
        time.sleep(2.2)
        return CommandOutcome(0, b"late", b"")

    listener = make_listener(slow)
    p = protocol(listener, creds, operation_timeout_sec=1, read_timeout_sec=2)
    shell = p.open_shell()
    command = p.run_command(shell, "powershell -encodedcommand " + _b64("x"))
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, command)
    out, err, code = p.get_command_output(shell, command)  # retries silently
    assert (out, err, code) == (b"late", b"", 0)
    p.cleanup_command(shell, command)
    p.close_shell(shell)


def test_several_commands_in_one_shell_share_one_connection(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = protocol(listener, creds)
    shell = p.open_shell()
    outputs = []
    for script in ("first", "second", "third"):
        command = p.run_command(shell, "powershell.exe -NoProfile -enc " + _b64(script))
        outputs.append(p.get_command_output(shell, command)[0])
        p.cleanup_command(shell, command)
    p.close_shell(shell)
    assert outputs == [b"HV-T|first", b"HV-T|second", b"HV-T|third"]
    assert listener.stats.connections == 1  # keep-alive across the whole shell
    assert listener.stats.requests == 1 + 3 * 3 + 1


def test_unknown_shell_id_is_the_invalid_selectors_fault(
    listener: WSManListener, creds: LabCredentials
) -> None:
    p = protocol(listener, creds)
    with pytest.raises(WSManFaultError) as info:
        p.run_command("6A8E5E3B-0000-0000-0000-000000000000", "powershell -e " + _b64("x"))
    assert info.value.wsman_fault_code == 2150858843
    assert info.value.fault_subcode == "w:InvalidSelectors"


def test_deleted_shell_is_forgotten(listener: WSManListener, creds: LabCredentials) -> None:
    p = protocol(listener, creds)
    shell = p.open_shell()
    p.close_shell(shell, close_session=False)
    with pytest.raises(WSManFaultError) as info:
        p.run_command(shell, "powershell -e " + _b64("x"))
    assert info.value.wsman_fault_code == 2150858843


def test_not_powershell_gets_a_clear_error(listener: WSManListener, creds: LabCredentials) -> None:
    result = session(listener, creds, "ntlm").run_cmd("ipconfig", ["/all"])
    assert result.status_code == 1
    assert b"'ipconfig' is not recognized" in result.std_err


def test_concurrent_clients(listener: WSManListener, creds: LabCredentials) -> None:
    results: list[bytes] = []

    def run(i: int) -> None:
        results.append(session(listener, creds, "ntlm").run_ps(f"n{i}").std_out)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == sorted(f"HV-T|n{i}".encode() for i in range(4))


def test_latency_figure_ntlm(listener: WSManListener, creds: LabCredentials) -> None:
    s = session(listener, creds, "ntlm")
    timings = []
    for _ in range(15):
        started = time.perf_counter()
        assert s.run_ps("1").status_code == 0
        timings.append((time.perf_counter() - started) * 1000)
    median = statistics.median(timings)
    print(f"\npywinrm run_ps over NTLM+encryption on loopback: median {median:.1f} ms")


def _b64(script: str) -> str:
    import base64

    return base64.b64encode(script.encode("utf-16-le")).decode()
