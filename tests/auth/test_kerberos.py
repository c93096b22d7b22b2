"""Kerberos against a real MIT KDC on loopback: the lab accepts it, the harness uses it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import AuthenticationError
from harness.lab.kdc import LabKdc
from harness.transport.kerberos import KerberosError, KerberosSource, TicketStore
from tests.auth.helpers import endpoint, served, whoami

pytestmark = pytest.mark.usefixtures("kdc")


def test_kerberos_over_http_with_message_encryption(kdc: LabKdc) -> None:
    with served(auth=("ntlm", "kerberos"), kdc=kdc) as server:
        doc = whoami(endpoint(server, transport="kerberos"))
        stats = server.listeners["HV-A"].stats
    assert doc["method"] == "kerberos"
    assert doc["user"] == server.kerberos_principal
    assert doc["network_credentials"] is False  # no delegation: no second hop
    # WinRM's Kerberos message encryption: every SOAP body sealed, none in the clear.
    assert stats.encrypted_requests >= 4 and stats.plaintext_requests == 0
    assert all("HTTP-SPNEGO-session-encrypted" in c for c in stats.content_types)


def test_delegation_gives_the_session_network_credentials(kdc: LabKdc) -> None:
    with served(auth=("ntlm", "kerberos"), kdc=kdc) as server:
        doc = whoami(endpoint(server, transport="kerberos", kerberos_delegation=True))
    assert (doc["method"], doc["network_credentials"]) == ("kerberos", True)


def test_kerberos_over_https_with_channel_binding(kdc: LabKdc) -> None:
    with served(auth=("kerberos",), kdc=kdc, https=True) as server:
        listener = server.listeners["HV-B"]
        assert listener.channel_bindings is not None  # Extended Protection on
        doc = whoami(endpoint(server, "HV-B", transport="kerberos"))
    assert doc["method"] == "kerberos" and doc["node"] == "HV-B"


def test_a_hardened_lab_refuses_ntlm_and_accepts_kerberos(kdc: LabKdc) -> None:
    with served(auth=("kerberos",), kdc=kdc) as server:
        with pytest.raises(AuthenticationError) as info:
            whoami(endpoint(server))  # NTLM
        assert "rejected the credentials" in str(info.value)
        assert whoami(endpoint(server, transport="kerberos"))["method"] == "kerberos"
        # pypsrp's SPNEGO may carry NTLM too: refused the same way.
        from pypsrp.exceptions import AuthenticationError as PsrpAuthError
        from pypsrp.shell import WinRS
        from pypsrp.wsman import WSMan

        creds = server.credentials
        assert creds is not None
        client = WSMan(
            "127.0.0.1",
            port=server.listeners["HV-A"].port,
            ssl=False,
            auth="ntlm",
            username=creds.qualified_username,
            password=creds.password,
        )
        with pytest.raises(PsrpAuthError), client, WinRS(client):
            pass


def test_ticket_from_a_keytab_and_from_an_existing_cache(kdc: LabKdc, tmp_path: Path) -> None:
    with served(auth=("kerberos",), kdc=kdc) as server:
        principal = server.kerberos_principal
        assert principal is not None
        keytab = kdc.export_user_keytab(principal, tmp_path / "user.keytab")
        doc = whoami(
            endpoint(server, transport="kerberos", password=None, kerberos_keytab=str(keytab))
        )
        assert doc["user"] == principal
        # An existing cache (what kinit leaves): no password, no keytab in the inventory.
        cache = f"FILE:{tmp_path / 'ccache'}"
        env = {**os.environ, **kdc.env, "KRB5CCNAME": cache}
        creds = server.credentials
        assert creds is not None
        subprocess.run(
            ["kinit", principal],
            input=creds.password + "\n",
            env=env,
            text=True,
            capture_output=True,
            check=True,
            timeout=30,
        )
        doc = whoami(
            endpoint(server, "HV-C", transport="kerberos", password=None, kerberos_ccache=cache)
        )
        assert doc["user"] == principal and doc["node"] == "HV-C"


# ---- one-line errors, each against the real KDC -------------------------------------------


def test_clock_skew_with_the_kdc() -> None:
    # A KDC whose clock is an hour ahead; this client does not adopt the KDC's time.
    with LabKdc(realm="SKEW.TEST", clock_offset="+1h", timesync=False) as skewed:
        principal = skewed.add_user("skewed-user", "Skew-pass-1")
        saved = os.environ.get("KRB5_CONFIG")
        os.environ["KRB5_CONFIG"] = str(skewed.krb5_conf)
        try:
            with pytest.raises(KerberosError) as info:
                TicketStore.obtain(KerberosSource(principal, password="Skew-pass-1"), "HV-A (x)")
        finally:
            os.environ["KRB5_CONFIG"] = saved or ""
    message = str(info.value)
    assert message.startswith("HV-A (x): clock skew with the KDC of realm SKEW.TEST")
    assert "synchronise this machine's clock" in message and "\n" not in message
    assert info.value.exit_code == 2


def test_a_missing_spn(kdc: LabKdc) -> None:
    with served(auth=("kerberos",), kdc=kdc) as server:
        ep = endpoint(server, transport="kerberos", kerberos_hostname="hv-z.qmlab.test")
        with pytest.raises(KerberosError) as info:
            whoami(ep)
    message = str(info.value)
    assert "no service principal HTTP/hv-z.qmlab.test in realm QMLAB.TEST (missing SPN)" in message
    assert "setspn -S HTTP/hv-z.qmlab.test" in message


def test_an_expired_ticket(kdc: LabKdc, tmp_path: Path) -> None:
    principal = kdc.add_user("short-lived", "Short-pass-1", max_life="3 seconds")
    cache = f"FILE:{tmp_path / 'ccache'}"
    env = {**os.environ, **kdc.env, "KRB5CCNAME": cache}
    subprocess.run(
        ["kinit", principal],
        input="Short-pass-1\n",
        env=env,
        text=True,
        capture_output=True,
        check=True,
        timeout=30,
    )
    time.sleep(4)
    with pytest.raises(KerberosError) as info:
        TicketStore.obtain(KerberosSource(principal, ccache=cache), "HV-A (x)")
    message = str(info.value)
    assert f"the Kerberos ticket from the ticket cache {cache} has expired" in message
    assert "run kinit again" in message


def test_a_wrong_realm(kdc: LabKdc) -> None:
    with pytest.raises(KerberosError) as info:
        TicketStore.obtain(KerberosSource("someone@WRONG.TEST", password="x"), "HV-A (x)")
    assert "no KDC answers for realm WRONG.TEST (wrong realm?)" in str(info.value)


def test_no_gssapi_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gssapi", None)
    with pytest.raises(KerberosError) as info:
        TicketStore.obtain(KerberosSource("u@QMLAB.TEST", password="x"), "HV-A (x)")
    message = str(info.value)
    assert "needs python-gssapi, which is not installed" in message
    assert "pip install 'qmaudit[kerberos]'" in message and "libkrb5-dev" in message


def test_a_keytab_without_a_user_name_uses_its_principal(kdc: LabKdc, tmp_path: Path) -> None:
    principal = kdc.add_user("keytab-only", "Keytab-pass-1")
    keytab = kdc.export_user_keytab(principal, tmp_path / "only.keytab")
    cache = TicketStore.obtain(KerberosSource(None, keytab=str(keytab)), "HV-A (x)")
    listed = subprocess.run(
        ["klist", cache], env={**os.environ, **kdc.env}, capture_output=True, text=True, timeout=30
    )
    assert f"Default principal: {principal}" in listed.stdout
