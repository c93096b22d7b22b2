"""Fixtures for authentication tests: a real MIT KDC on loopback, lab servers over HTTPS."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.lab.kdc import DEBIAN_PACKAGES, LabKdc, kdc_available
from harness.transport.kerberos import TicketStore


def require_kerberos() -> None:
    """Skip without MIT Kerberos locally; in CI (CI=true) a missing KDC or gssapi is a failure."""
    missing = []
    if not kdc_available():
        missing.append(f"the MIT KDC (apt-get install {DEBIAN_PACKAGES})")
    try:
        import gssapi  # noqa: F401
        import kerberos  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as exc:
        missing.append(f"{exc.name} (pip install 'qmaudit[kerberos]')")
    if not missing:
        return
    message = "Kerberos tests need " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: .ci/run installs them)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def kdc() -> Iterator[LabKdc]:
    """One KDC for the session; this process's Kerberos libraries use its krb5.conf."""
    require_kerberos()
    keys = ("KRB5_CONFIG", "KRB5_KDC_PROFILE", "KRB5_KTNAME", "KRB5CCNAME")
    saved = {k: os.environ.get(k) for k in keys}
    server = LabKdc().start()
    os.environ.update(server.env)
    try:
        yield server
    finally:
        server.stop()
        TicketStore.forget()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
