"""The lab endpoint's Windows limits under attack, on loopback: each attack is refused in bounded
time, memory stays flat over rounds, and a real client (pywinrm) is served after each one."""

from __future__ import annotations

import gc
import socket
import time
import tracemalloc
from collections.abc import Callable

import pytest
import winrm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from winrm.exceptions import WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from harness.lab.wsman import LabCredentials, WSManListener
from harness.lab.wsman.limits import (
    ConnectionGate,
    EndpointLimits,
    RequestRefused,
    ShellReaper,
    content_length,
)

LIMITS = EndpointLimits(
    max_connections=6, idle_connection_s=1.0, entity_body_s=1.5, shell_idle_timeout_s=1.0
)


@pytest.fixture
def guarded(make_listener: Callable[..., WSManListener]) -> WSManListener:
    return make_listener(limits=LIMITS, max_shells_per_user=4)


def served(listener: WSManListener, creds: LabCredentials) -> None:
    """A real client still gets its answer."""
    session = winrm.Session(
        listener.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    result = session.run_ps("Get-Date")
    assert result.status_code == 0 and result.std_out.decode() == "HV-T|Get-Date"


def raw(listener: WSManListener, head: str, body: bytes = b"", timeout: float = 5.0) -> str:
    """Send a raw request; the status line answered ('' when the server just closed)."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=timeout) as conn:
        conn.sendall(head.encode("latin-1") + body)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def post(length: str, extra: str = "") -> str:
    return (
        "POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    )


def attack_oversized(listener: WSManListener) -> None:
    # 1.2 GB announced: refused from the header, before a byte of body is read.
    assert " 413 " in raw(listener, post(str(1_200_000_000)))


def attack_anonymous_body(listener: WSManListener) -> None:
    # No credentials: 401 without reading the (bounded) body; the connection is closed.
    assert " 401 " in raw(listener, post(str(200_000)), b"x" * 200_000)


def attack_bad_lengths(listener: WSManListener) -> None:
    for bad in ("abc", "-5", "1e9", "5, 6"):
        assert " 400 " in raw(listener, post(bad, "Authorization: Negotiate TlRMTVNTUAAB\r\n"))
    dup = post("5", "Content-Length: 7\r\n")
    assert " 400 " in raw(listener, dup)


def attack_short_body(listener: WSManListener) -> None:
    # Announces 1000 bytes, sends 10, then stalls: answered 408 within the timers, not hung.
    started = time.monotonic()
    line = raw(listener, post("1000", "Authorization: Negotiate TlRMTVNTUAAB\r\n"), b"x" * 10)
    assert line == "" or " 408 " in line or " 400 " in line
    assert time.monotonic() - started < LIMITS.entity_body_s + LIMITS.idle_connection_s + 2


def attack_idle_connections(listener: WSManListener) -> None:
    # MaxConnections silent sockets: the next one gets 503; they are reclaimed after the
    # idle timer and a client is served again.
    socks = [
        socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        for _ in range(LIMITS.max_connections)
    ]
    try:
        deadline = time.monotonic() + 3
        while listener._gate.open < LIMITS.max_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert " 503 " in raw(listener, post("0"))
        for sock in socks:  # the server closes each idle one
            sock.settimeout(LIMITS.idle_connection_s + 3)
            assert sock.recv(1) == b""
    finally:
        for sock in socks:
            sock.close()


def attack_leaked_shells(listener: WSManListener, creds: LabCredentials) -> None:
    proto = Protocol(
        listener.url,
        transport="ntlm",
        username=creds.qualified_username,
        password=creds.password,
    )
    for _ in range(listener.max_shells_per_user):
        proto.open_shell()  # never closed: leaked
    with pytest.raises(WSManFaultError):
        proto.open_shell()
    time.sleep(LIMITS.shell_idle_timeout_s + 0.3)


ATTACKS = [
    attack_oversized,
    attack_anonymous_body,
    attack_bad_lengths,
    attack_short_body,
    attack_idle_connections,
]


def test_each_attack_refused_and_a_client_still_served(
    guarded: WSManListener, creds: LabCredentials
) -> None:
    for attack in ATTACKS:
        attack(guarded)
        served(guarded, creds)
    attack_leaked_shells(guarded, creds)
    served(guarded, creds)  # the idle shells were reclaimed: the quota is free again
    assert guarded._reaper.reclaimed >= guarded.max_shells_per_user
    assert guarded.stats.refused >= 6


def test_envelope_over_max_envelope_size_is_413(
    guarded: WSManListener, creds: LabCredentials
) -> None:
    session = winrm.Session(
        guarded.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    with pytest.raises(WinRMTransportError) as info:
        session.run_cmd("echo", ["x" * (LIMITS.max_envelope_bytes + 1)])
    assert info.value.code == 413
    served(guarded, creds)


def test_soak_memory_stays_flat(guarded: WSManListener, creds: LabCredentials) -> None:
    """Rounds of attacks (bounded: 4 rounds): traced memory after the last round is within
    a few MB of the first; figures printed."""
    tracemalloc.start()
    try:
        sizes = []
        for _ in range(4):
            for attack in (attack_oversized, attack_anonymous_body, attack_bad_lengths):
                for _ in range(5):
                    attack(guarded)
            served(guarded, creds)
            gc.collect()
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    growth = sizes[-1] - sizes[0]
    print(f"traced memory per round (KiB): {[s // 1024 for s in sizes]}, growth {growth} B")
    assert growth < 2 * 1024 * 1024


def test_units() -> None:
    assert content_length(None) == 0 and content_length(["12"]) == 12
    for bad in (["x"], ["1", "2"], ["9" * 40]):
        with pytest.raises(RequestRefused):
            content_length(bad)
    gate = ConnectionGate(1)
    assert gate.enter() and not gate.enter()
    gate.leave()
    assert gate.enter()
    now = [0.0]
    reaper = ShellReaper(10, clock=lambda: now[0])
    deleted: list[str] = []
    reaper.sweep(["a", "b"], deleted.append)
    now[0] = 5
    reaper.touch("a")
    now[0] = 12
    assert reaper.sweep(["a", "b"], deleted.append) == ["B"] and deleted == ["B"]


ENCRYPTED = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"'
_HEADER = st.sampled_from(
    [
        "Content-Length: 5\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 99999999999\r\n",
        "Content-Length: 0\r\nContent-Length: 3\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Authorization: Negotiate TlRMTVNTUAAB\r\n",
        "Authorization: Basic Zm9vOmJhcg==\r\n",
        "Authorization: Negotiate !!!\r\n",
        f"Content-Type: {ENCRYPTED}\r\n",
        "X-Junk: \x1b[2J\r\n",
    ]
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["POST", "GET", "PUT", "POST"]),
    path=st.sampled_from(["/wsman", "/wsman?PSVersion=5.1", "/", "/../x"]),
    headers=st.lists(_HEADER, max_size=4),
    body=st.binary(max_size=64),
)
def test_any_request_gets_an_answer_or_a_close(
    guarded: WSManListener, method: str, path: str, headers: list[str], body: bytes
) -> None:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{''.join(headers)}\r\n"
    started = time.monotonic()
    line = raw(guarded, head, body, timeout=LIMITS.entity_body_s + LIMITS.idle_connection_s + 2)
    assert line == "" or line.startswith("HTTP/1.1 ")
    assert time.monotonic() - started < LIMITS.entity_body_s + LIMITS.idle_connection_s + 3


def test_served_after_fuzzing(guarded: WSManListener, creds: LabCredentials) -> None:
    for head in ("GARBAGE\r\n\r\n", "POST /wsman HTTP/1.1\r\nContent-Length: x\r\n\r\n"):
        raw(guarded, head)
    served(guarded, creds)
