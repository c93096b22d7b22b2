"""The real pywinrm stack against servers that fail: bounded time, the right error, no hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.errors import AuthenticationError, TransportError, TransportTimeoutError
from harness.transport import Endpoint, WinRMSession
from harness.transport import session as session_mod
from tests.transport.misbehaving import closed_port, misbehaving, self_signed

PASSWORD = "Faulty-Server-Pw-7"


def _session(port: int, **kw: object) -> WinRMSession:
    settings: dict[str, object] = {
        "node": "lab-n1",
        "host": "127.0.0.1",
        "port": port,
        "scheme": "http",
        "transport": "basic",
        "username": "u",
        "password": PASSWORD,
        "operation_timeout_s": 1,
        "read_timeout_s": 1.5,
        "connect_timeout_s": 1,
        "retries": 2,
        "backoff_s": 0.05,
    }
    settings.update(kw)
    return WinRMSession(Endpoint(**settings))  # type: ignore[arg-type]


def test_endpoint_down_is_transport_error_after_bounded_retries() -> None:
    port = closed_port()
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        _session(port).run_script("x")
    assert time.monotonic() - start < 3
    assert "after 3 attempts" in str(info.value)
    assert f"127.0.0.1:{port}" in str(info.value) and "lab-n1" in str(info.value)
    assert not isinstance(info.value, AuthenticationError)
    assert PASSWORD not in str(info.value)


def test_server_that_hangs_gives_timeout_error_without_hanging() -> None:
    with misbehaving("hang") as server:
        start = time.monotonic()
        with pytest.raises(TransportTimeoutError):
            _session(server.port).run_script("x")
        elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 4
    assert server.connections == 1  # a read timeout is not retried


def test_garbage_xml_is_a_malformed_response_error() -> None:
    with misbehaving("garbage") as server:
        with pytest.raises(TransportError, match="malformed WS-Management response"):
            _session(server.port).run_script("x")
        assert server.requests == 1


def test_http_500_without_fault_is_retried_then_transport_error() -> None:
    with misbehaving("500") as server:
        with pytest.raises(TransportError, match="HTTP 500"):
            _session(server.port).run_script("x")
        assert server.requests == 3


def test_connection_reset_is_retried_then_transport_error() -> None:
    with misbehaving("reset") as server:
        start = time.monotonic()
        with pytest.raises(TransportError, match="after 3 attempts") as info:
            _session(server.port).run_script("x")
        assert time.monotonic() - start < 3
        assert server.requests == 3
    assert "Connection" in str(info.value)


def test_http_401_is_authentication_error_at_once() -> None:
    with misbehaving("401") as server:
        with pytest.raises(AuthenticationError) as info:
            _session(server.port).run_script("x")
        assert server.requests == 1
    assert PASSWORD not in str(info.value)


def test_tls_verified_by_default_ca_bundle_accepted_insecure_switch_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert = self_signed(tmp_path)
    with misbehaving("garbage", tls=context) as server:
        # Verification on (default): an unknown CA is refused, and the message says what to do.
        with pytest.raises(TransportError, match=r"TLS verification failed.*ca_bundle") as info:
            _session(server.port, scheme="https").run_script("x")
        assert server.requests == 0 and "after" not in str(info.value)
        # The server's CA given: TLS passes, and the garbage reply is what fails.
        with pytest.raises(TransportError, match="malformed WS-Management response"):
            _session(server.port, scheme="https", ca_bundle=str(cert)).run_script("x")
        # The explicit insecure switch: TLS passes unverified, with one warning on stderr.
        monkeypatch.setattr(session_mod, "_insecure_warned", False)
        capsys.readouterr()
        with pytest.raises(TransportError, match="malformed WS-Management response"):
            _session(server.port, scheme="https", verify_tls=False).run_script("x")
        assert "verification is OFF" in capsys.readouterr().err
        assert server.requests == 2
