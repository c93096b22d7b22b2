"""Endpoint validation, defaults, URL and redaction of the password."""

from __future__ import annotations

import pytest

from harness.errors import InputError, TransportError
from harness.redact import redact
from harness.transport import Endpoint


def _ep(**kw: object) -> Endpoint:
    base: dict[str, object] = {
        "node": "n1",
        "host": "n1.example",
        "username": "u",
        "password": "pw-xyz-1",
    }
    base.update(kw)
    return Endpoint(**base)  # type: ignore[arg-type]


def test_defaults_are_https_5986_with_verification() -> None:
    ep = _ep()
    assert (ep.scheme, ep.port, ep.verify_tls, ep.transport) == ("https", 5986, True, "ntlm")
    assert ep.url == "https://n1.example:5986/wsman"
    assert (ep.operation_timeout_s, ep.read_timeout_s, ep.retries, ep.backoff_s) == (20, 30, 3, 0.5)


def test_http_default_port_and_ipv6_url() -> None:
    assert _ep(scheme="http").url == "http://n1.example:5985/wsman"
    assert _ep(host="::1", port=1234, scheme="http").url == "http://[::1]:1234/wsman"


def test_password_never_in_repr_and_registered_for_redaction() -> None:
    ep = _ep(password="s3cret-pass-42")
    assert "s3cret-pass-42" not in repr(ep)
    assert redact("oops s3cret-pass-42") == "oops ********"
    err = TransportError(ep.label, "auth with s3cret-pass-42 failed")
    assert "s3cret-pass-42" not in str(err)


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"read_timeout_s": 20, "operation_timeout_s": 20}, "read_timeout_s"),
        ({"read_timeout_s": 5, "operation_timeout_s": 10}, "read_timeout_s"),
        ({"operation_timeout_s": 0.5, "read_timeout_s": 2}, "operation_timeout_s"),
        ({"transport": "smoke-signals"}, "transport"),
        ({"scheme": "ftp"}, "scheme"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"password": None}, "password"),
        ({"username": None}, "username"),
        ({"retries": -1}, "retries"),
        ({"backoff_s": -1}, "backoff_s"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"transport": "certificate"}, "cert_pem"),
        ({"transport": "certificate", "scheme": "http"}, "transport"),
        ({"node": ""}, "node"),
    ],
)
def test_invalid_settings_are_input_errors(kw: dict[str, object], where: str) -> None:
    with pytest.raises(InputError) as info:
        _ep(**kw)
    assert info.value.location == where


def test_kerberos_needs_no_password_and_certificate_needs_files(tmp_path: object) -> None:
    assert _ep(transport="kerberos", username=None, password=None).transport == "kerberos"
    from pathlib import Path

    base = Path(str(tmp_path))
    cert, key = base / "c.pem", base / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    ep = _ep(transport="certificate", cert_pem=str(cert), cert_key_pem=str(key))
    assert ep.cert_pem == str(cert)


def test_backoff_is_exponential_and_capped() -> None:
    ep = _ep(backoff_s=0.5, backoff_max_s=3)
    assert [ep.backoff(i) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
