"""The lab authenticates like a default Windows WinRM service: no Basic, encrypted messages only."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Callable

import pytest
import spnego
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError

from harness.lab.wsman import LabCredentials, WSManListener
from tests.wsman_fixtures import PERMISSIVE


def _post(conn: http.client.HTTPConnection, authorization: str | None) -> http.client.HTTPResponse:
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8", "Content-Length": "0"}
    if authorization is not None:
        headers["Authorization"] = authorization
    conn.request("POST", "/wsman", body=b"", headers=headers)
    response = conn.getresponse()
    response.read()
    return response


def test_default_listener_offers_and_accepts_only_negotiate(
    listener: WSManListener, creds: LabCredentials
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
    offered = _post(conn, None).getheader("WWW-Authenticate")
    assert offered == "Negotiate"
    basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    assert _post(conn, f"Basic {basic}").status == 401  # right password, still refused
    with pytest.raises(InvalidCredentialsError):
        winrm.Session(
            listener.url, auth=(creds.username, creds.password), transport="basic"
        ).run_cmd("x")


def test_default_listener_refuses_unencrypted_messages(
    listener: WSManListener, creds: LabCredentials
) -> None:
    plain = winrm.Session(
        listener.url,
        auth=(creds.qualified_username, creds.password),
        transport="ntlm",
        message_encryption="never",
    )
    with pytest.raises(WinRMTransportError) as info:
        plain.run_cmd("x")
    assert info.value.code == 500
    assert listener.stats.unencrypted_refused == 1
    assert listener.stats.encrypted_requests == 0
    # The same account with encryption (what pywinrm does by default over HTTP) works.
    ok = winrm.Session(
        listener.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    assert ok.run_ps("1").status_code == 0


def test_permissive_listener_is_an_explicit_opt_in(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE)
    auth = (creds.qualified_username, creds.password)
    plain = winrm.Session(listener.url, auth=auth, transport="ntlm", message_encryption="never")
    assert plain.run_ps("1").status_code == 0
    basic = winrm.Session(listener.url, auth=(creds.username, creds.password), transport="basic")
    assert basic.run_ps("1").status_code == 0


GARBAGE = [
    "!!! not base64 !!!",
    base64.b64encode(b"\x00" * 3).decode(),
    base64.b64encode(bytes(range(256)) * 4).decode(),
    base64.b64encode(b"NTLMSSP\x00\x01\x00\x00\x00").decode(),  # a Negotiate cut short
    base64.b64encode(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\xff" * 60).decode(),  # absurd offsets
    base64.b64encode(b"NTLMSSP\x00\x02\x00\x00\x00" + b"\x00" * 40).decode(),  # a server message
    base64.b64encode(b"\x60\x82\xff\xff\x06\x06+\x06\x01\x05\x05\x02").decode(),  # broken SPNEGO
    base64.b64encode(b"\xa1\x03\x0a\x01\x01").decode(),  # a NegTokenResp out of the blue
    "",
    "A" * 12000,  # long, but within HTTP.sys's default header field limit
]


@pytest.mark.parametrize("token", GARBAGE, ids=range(len(GARBAGE)))
def test_malformed_ntlm_token_gets_an_http_answer(
    listener: WSManListener, capfd: pytest.CaptureFixture[str], token: str
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
    response = _post(conn, f"Negotiate {token}")
    assert response.status in (400, 401)
    assert "Traceback" not in capfd.readouterr().err


def test_garbage_after_a_real_negotiate_message_gets_401(
    listener: WSManListener, creds: LabCredentials, capfd: pytest.CaptureFixture[str]
) -> None:
    client = spnego.client(creds.username, creds.password, protocol="ntlm")
    conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
    first = client.step()
    assert first is not None
    challenge = _post(conn, f"Negotiate {base64.b64encode(first).decode()}")
    assert challenge.status == 401 and (challenge.getheader("WWW-Authenticate") or "").startswith(
        "Negotiate "
    )
    bogus = base64.b64encode(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x01" * 80).decode()
    assert _post(conn, f"Negotiate {bogus}").status == 401
    assert listener.stats.requests == 0
    assert "Traceback" not in capfd.readouterr().err


def test_lab_serve_is_windows_default_unless_permissive(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import cli
    from harness.lab import serve

    seen: list[tuple[tuple[str, ...], bool]] = []

    class Recording(serve.LabServer):
        def __enter__(self) -> serve.LabServer:
            seen.append((self.auth, self.allow_unencrypted))
            raise SystemExit(0)  # stop before binding any port

    monkeypatch.setattr(serve, "LabServer", Recording)
    for argv in (["lab", "serve"], ["lab", "serve", "--permissive"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    assert seen == [(("ntlm",), False), (("ntlm", "basic"), True)]
