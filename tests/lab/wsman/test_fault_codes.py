"""The lab endpoint answers with the fault codes Windows sends (wsmerror.h values)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests
from winrm.exceptions import WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from harness.errors import TransportError
from harness.lab.wsman import CommandOutcome, LabCredentials, WSManListener
from harness.lab.wsman.soap import NS
from harness.transport import Endpoint, WinRMSession
from tests.lab.wsman.test_faults import ENVELOPE, fault_of
from tests.wsman_fixtures import PERMISSIVE

CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"


def _protocol(listener: WSManListener, creds: LabCredentials) -> Protocol:
    return Protocol(
        listener.url,
        transport="ntlm",
        username=creds.qualified_username,
        password=creds.password,
        operation_timeout_sec=1,
        read_timeout_sec=3,
    )


def test_unknown_shell_is_2150858843(listener: WSManListener, creds: LabCredentials) -> None:
    p = _protocol(listener, creds)
    with pytest.raises(WSManFaultError) as info:
        p.run_command("00000000-0000-0000-0000-000000000000", "powershell")
    assert info.value.wsman_fault_code == 2150858843
    assert "shell was not found" in str(info.value.response)


def test_receive_timeout_is_2150858793(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    release = threading.Event()

    def slow(node: str, script: str) -> CommandOutcome:
        release.wait(5)
        return CommandOutcome(0, b"", b"")

    p = _protocol(make_listener(slow), creds)
    shell = p.open_shell()
    cid = p.run_command(shell, "powershell", ["-EncodedCommand", "JwB4ACcA"])
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, cid)  # pywinrm maps only code 2150858793 to this
    release.set()


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("", 2150858754),  # ERROR_WSMAN_INVALID_URI: missing
        ("not a uri", 2150858754),  # ERROR_WSMAN_INVALID_URI: malformed
        ("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/nope", 2150858752),
    ],
)
def test_bad_resource_uri(
    make_listener: Callable[..., WSManListener], creds: LabCredentials, uri: str, code: int
) -> None:
    listener = make_listener(**PERMISSIVE)
    action = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
    body = ENVELOPE.format(action=action, mid="uuid:1", **NS).replace(CMD_URI, uri)
    response = requests.post(
        listener.url,
        data=body.encode(),
        auth=(creds.username, creds.password),
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        timeout=10,
    )
    assert response.status_code == 500
    assert fault_of(response)["wsman_code"] == str(code)


def test_shell_quota_is_2150859173_and_the_session_says_so(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(max_shells_per_user=2)
    p = _protocol(listener, creds)
    p.open_shell()
    p.open_shell()
    with pytest.raises(WSManFaultError) as info:
        p.open_shell()
    assert info.value.wsman_fault_code == 2150859173
    assert info.value.fault_subcode == "w:QuotaLimit"
    endpoint = Endpoint(
        node="HV-T",
        host="127.0.0.1",
        port=listener.port,
        scheme="http",
        username=creds.qualified_username,
        password=creds.password,
        retries=1,
        backoff_s=0.01,
    )
    with WinRMSession(endpoint) as session, pytest.raises(TransportError, match="2150859173"):
        session.run_script("x")
