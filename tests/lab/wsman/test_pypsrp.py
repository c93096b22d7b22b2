"""A second WinRM client, pypsrp (WSMan + WinRS + Process), against the lab endpoint."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from pypsrp.exceptions import AuthenticationError
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from harness.lab.wsman import LabCredentials, WSManListener
from tests.wsman_fixtures import PERMISSIVE


def wsman(listener: WSManListener, creds: LabCredentials, auth: str, password: str = "") -> WSMan:
    return WSMan(
        "127.0.0.1",
        port=listener.port,
        ssl=False,
        auth=auth,
        username=creds.username,
        password=password or creds.password,
        encryption="never" if auth == "basic" else "always",
    )


@pytest.mark.parametrize("auth", ["negotiate", "ntlm", "basic"])
def test_pypsrp_runs_a_process(
    make_listener: Callable[..., WSManListener], creds: LabCredentials, auth: str
) -> None:
    listener = make_listener(**PERMISSIVE) if auth == "basic" else make_listener()
    script = "Write-Output 'ok'"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    with wsman(listener, creds, auth) as client, WinRS(client) as shell:
        process = Process(shell, "powershell.exe", ["-NoProfile", "-EncodedCommand", encoded])
        process.invoke()
        process.signal(SignalCode.TERMINATE)
    assert (process.rc, process.stdout) == (0, f"HV-T|{script}".encode())
    if auth == "basic":
        assert listener.stats.encrypted_requests == 0
    else:
        assert listener.stats.plaintext_requests == 0
        assert listener.stats.encrypted_requests >= 4


def test_pypsrp_wrong_password(listener: WSManListener, creds: LabCredentials) -> None:
    with (
        pytest.raises(AuthenticationError),
        wsman(listener, creds, "negotiate", "wrong") as client,
        WinRS(client),
    ):
        pass
