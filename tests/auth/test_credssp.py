"""CredSSP over HTTPS: pyspnego's acceptor in the lab; the session holds network credentials."""

from __future__ import annotations

import pytest

from harness.errors import AuthenticationError, InputError
from tests.auth.helpers import endpoint, served, whoami


def test_credssp_over_https_delegates_the_password() -> None:
    with served(auth=("ntlm", "credssp"), https=True) as server:
        doc = whoami(endpoint(server, transport="credssp"))
    assert doc["method"] == "credssp"
    assert doc["user"] == server.credentials.qualified_username  # type: ignore[union-attr]
    assert doc["network_credentials"] is True  # the second hop works


def test_credssp_with_a_wrong_password_is_refused() -> None:
    bad = {"transport": "credssp", "password": "not-the-password"}
    with served(auth=("ntlm", "credssp"), https=True) as server, pytest.raises(AuthenticationError):
        whoami(endpoint(server, **bad))


def test_credssp_off_on_the_listener_is_refused() -> None:
    # A default WinRM service: Auth/CredSSP = false.
    with served(https=True) as server, pytest.raises(AuthenticationError):
        whoami(endpoint(server, transport="credssp"))


def test_credssp_is_https_only() -> None:
    with served() as server, pytest.raises(InputError) as info:
        endpoint(server, transport="credssp")
    assert "credssp needs scheme https" in str(info.value)
