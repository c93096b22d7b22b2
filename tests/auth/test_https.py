"""WinRM over HTTPS against the lab's TLS listener: validation by default, one-line refusals."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from harness.errors import AuthenticationError
from harness.lab.wsman import LabCredentials, WSManListener
from harness.lab.wsman.tls import LabCA, TlsFiles
from harness.transport import session as session_module
from harness.transport.tls import TlsTrustError, verify_server
from tests.auth.helpers import endpoint, logon_answer, served, whoami


def test_https_with_the_inventory_ca_bundle_validates_and_runs() -> None:
    with served(https=True) as server:
        ep = endpoint(server)
        assert ep.url.startswith("https://")
        assert whoami(ep) == {
            "node": "HV-A",
            "user": server.credentials.qualified_username,  # type: ignore[union-attr]
            "method": "ntlm",
            "network_credentials": False,  # NTLM: no second hop
        }
        stats = server.listeners["HV-A"].stats
        # TLS carries the SOAP: no message-level encryption, as pywinrm does over HTTPS.
        assert stats.plaintext_requests > 0 and stats.encrypted_requests == 0


def test_an_untrusted_certificate_is_refused_with_the_fix() -> None:
    with served(https=True) as server:
        ep = endpoint(server, ca_bundle=None)  # the system store does not know the lab's CA
        with pytest.raises(TlsTrustError) as info:
            whoami(ep)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("transport error talking to HV-A (https://127.0.0.1:")
    assert "not trusted by the system CA store" in message
    assert "ca_bundle" in message and "qmaudit lab test CA" in message
    assert info.value.exit_code == 2


def _listener(tmp_path: Path, ca: LabCA, **issue: object) -> WSManListener:
    cert = ca.issue(**issue)  # type: ignore[arg-type]
    cert_path, key_path = cert.write(tmp_path, "node")
    return WSManListener(
        "HV-A", logon_answer, LabCredentials.generate(), tls=TlsFiles(cert_path, key_path)
    ).start()


def test_a_wrong_host_name_is_refused_naming_the_certificate_names(tmp_path: Path) -> None:
    ca = LabCA.create()
    bundle = ca.write_bundle(tmp_path / "ca.pem")
    listener = _listener(tmp_path, ca, names=["hv-a.corp.example"])
    try:
        from harness.transport.endpoint import Endpoint

        ep = Endpoint(
            "HV-A",
            "127.0.0.1",
            port=listener.port,
            username="u",
            password="p",
            ca_bundle=str(bundle),
        )
        with pytest.raises(TlsTrustError) as info:
            verify_server(ep)
    finally:
        listener.stop()
    message = str(info.value)
    assert "certificate is for hv-a.corp.example, not 127.0.0.1" in message
    assert "HV-A" in message and "\n" not in message


def test_an_expired_certificate_is_refused_with_its_date(tmp_path: Path) -> None:
    ca = LabCA.create()
    bundle = ca.write_bundle(tmp_path / "ca.pem")
    now = dt.datetime.now(dt.UTC)
    listener = _listener(
        tmp_path,
        ca,
        names=["localhost"],
        ips=["127.0.0.1"],
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    try:
        from harness.transport.endpoint import Endpoint

        ep = Endpoint(
            "HV-A",
            "127.0.0.1",
            port=listener.port,
            username="u",
            password="p",
            ca_bundle=str(bundle),
        )
        with pytest.raises(TlsTrustError) as info:
            verify_server(ep)
    finally:
        listener.stop()
    message = str(info.value)
    assert re.search(r"certificate expired on \d{4}-\d\d-\d\d", message), message
    assert "renew" in message


def test_verify_tls_false_is_explicit_and_warned(capsys: pytest.CaptureFixture[str]) -> None:
    session_module._insecure_warned = False
    with served(https=True) as server:
        doc = whoami(endpoint(server, ca_bundle=None, verify_tls=False))
    assert doc["method"] == "ntlm"
    err = capsys.readouterr().err
    assert "WARNING: TLS certificate verification is OFF" in err
    assert "verify_tls: false" in err


@pytest.mark.parametrize("send_cbt", [True, False])
def test_extended_protection_requires_the_channel_binding_token(send_cbt: bool) -> None:
    # The lab's HTTPS listeners check channel binding like CbtHardeningLevel=Strict.
    with served(https=True) as server:
        ep = endpoint(server, send_cbt=send_cbt)
        if send_cbt:
            assert whoami(ep)["method"] == "ntlm"
        else:
            with pytest.raises(AuthenticationError):
                whoami(ep)


def test_without_strict_binding_a_client_without_cbt_gets_in() -> None:
    with served(https=True, cbt_strict=False) as server:
        assert whoami(endpoint(server, send_cbt=False))["method"] == "ntlm"
