"""WinRMSession end to end against the lab's WS-Management listener (NTLM+encryption, Basic)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from harness.errors import AuthenticationError, TransportError, TransportTimeoutError
from harness.lab.wsman import CommandOutcome, ListenerFaults, WSManListener
from harness.lab.wsman.clixml import throw_stderr
from harness.probes.protocol import build_script, parse_script
from harness.transport import WinRMSession, error_message
from tests.wsman_fixtures import PERMISSIVE

MakeListener = Callable[..., WSManListener]
MakeSession = Callable[..., WinRMSession]

NASTY = [
    "x'; Remove-Item C:\\ -Recurse; '",
    'quote " and double "" and \'single\'',
    "$(Stop-Computer -Force) and ${env:ProgramData}",
    "back`tick`n and `$(whoami)",
    "new\nline\r\nand\ttab",
    "Zoë ☃ 日本語 \U0001f600",
    "@' here-string '@ | iex; # comment",
]


def echo(node: str, script: str) -> CommandOutcome:
    return CommandOutcome(0, f"{node}|{script}".encode(), b"")


def echo_params(node: str, script: str) -> CommandOutcome:
    """What a lab endpoint does: parse the probe script; here, echo the parameters it got."""
    name, params = parse_script(script)
    doc = {"probe": name, "node": node, "params": params}
    return CommandOutcome(0, (json.dumps(doc, ensure_ascii=False) + "\r\n").encode(), b"")


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_round_trip_reuses_one_shell_and_one_connection(
    make_listener: MakeListener, make_session: MakeSession, transport: str
) -> None:
    listener = make_listener(echo, **PERMISSIVE)
    session = make_session(listener, transport)
    for i in range(3):
        result = session.run_script(f"Write-Output {i} 'Zoë'")
        assert (result.exit_code, result.stdout, result.stderr) == (
            0,
            f"HV-T|Write-Output {i} 'Zoë'",
            "",
        )
    assert session.shells_opened == 1
    assert listener.stats.connections == 1  # HTTP keep-alive: one TCP connection throughout
    # One Create, then Command + Send (the script on stdin) + Receive + Signal per script; with
    # NTLM every one sealed.
    assert listener.stats.requests == 13
    if transport == "ntlm":
        assert listener.stats.encrypted_requests == 13 and listener.stats.plaintext_requests == 0
    session.close()


def test_wrong_password_is_authentication_error_at_once(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    listener = make_listener(echo, **PERMISSIVE)
    for transport in ("ntlm", "basic"):
        session = make_session(listener, transport, password="not-the-password-123")
        start = time.monotonic()
        with pytest.raises(AuthenticationError) as info:
            session.run_script("x")
        assert time.monotonic() - start < 1.0
        assert "not-the-password-123" not in str(info.value)
    assert listener.stats.requests <= 4  # no retries: one handshake per transport


def test_probe_that_throws_surfaces_its_message(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    message = "The cluster node was not found (Win32 error 5042)"

    def throws(node: str, script: str) -> CommandOutcome:
        return CommandOutcome(1, b"", throw_stderr(message, script))

    result = make_session(make_listener(throws)).run_script("throw 'x'")
    assert result.exit_code == 1
    assert result.stderr.startswith(message + "\nAt line:")
    assert error_message(result.stderr) == message


def test_answer_raising_surfaces_its_message(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    def broken(node: str, script: str) -> CommandOutcome:
        raise RuntimeError("VM 'Zoë \"x\"' is not clustered")

    result = make_session(make_listener(broken)).run_script("x")
    assert result.exit_code == 1
    assert error_message(result.stderr) == "VM 'Zoë \"x\"' is not clustered"


def test_hostile_names_round_trip_and_never_become_source(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    session = make_session(make_listener(echo_params))
    params = {"vm_names": NASTY, "node": NASTY[4]}
    script = build_script("move_status", params)
    for value in NASTY:
        assert value not in script
    result = session.run_script(script, idempotent=True)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc == {"probe": "move_status", "node": "HV-T", "params": params}


def test_gone_shell_is_reopened(make_listener: MakeListener, make_session: MakeSession) -> None:
    session = make_session(make_listener(echo))
    assert session.run_script("a").exit_code == 0
    session._shell_id = "0A0B0C0D-0000-0000-0000-000000000000"  # as if the server dropped it
    assert session.run_script("b").stdout == "HV-T|b"
    assert session.shells_opened == 2


def test_slow_answer_polls_through_operation_timeouts(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    def slow(node: str, script: str) -> CommandOutcome:
        time.sleep(2.2)  # more than two 1 s operation timeouts
        return CommandOutcome(0, b"late", b"")

    assert make_session(make_listener(slow)).run_script("x").stdout == "late"


def test_hanging_server_gives_timeout_error(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    listener = make_listener(echo, faults=ListenerFaults(mode="hang", hang_s=10), **PERMISSIVE)
    start = time.monotonic()
    with pytest.raises(TransportTimeoutError):
        make_session(listener, "basic", read_timeout_s=1.5).run_script("x")
    assert time.monotonic() - start < 4


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_garbage_xml_is_transport_error(
    make_listener: MakeListener, make_session: MakeSession, transport: str
) -> None:
    listener = make_listener(echo, faults=ListenerFaults(mode="garbage"), **PERMISSIVE)
    with pytest.raises(TransportError, match=r"malformed WS-Management response|WinRMError"):
        make_session(listener, transport).run_script("x")


def test_access_denied_fault_is_authentication_error(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    listener = make_listener(echo, faults=ListenerFaults(mode="access_denied"), **PERMISSIVE)
    with pytest.raises(AuthenticationError):
        make_session(listener, "basic").run_script("x")


def test_connection_dropped_after_command_not_resent_for_actions(
    make_listener: MakeListener, make_session: MakeSession
) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def counting(node: str, script: str) -> CommandOutcome:
        with lock:
            runs.append(script)
        return CommandOutcome(0, b"ok", b"")

    faults = ListenerFaults(mode="close", actions=frozenset({"Receive"}))
    listener = make_listener(counting, faults=faults, **PERMISSIVE)
    with pytest.raises(TransportError, match="may already have run"):
        make_session(listener, "basic").run_script("move")
    time.sleep(0.1)
    assert len(runs) == 1
    # A read probe is retried (in a fresh shell) and then gives up after bounded attempts.
    with pytest.raises(TransportError, match="after 3 attempts"):
        make_session(listener, "basic").run_script("read", idempotent=True)
    time.sleep(0.1)
    assert len(runs) == 4
