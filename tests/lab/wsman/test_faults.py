"""SOAP faults on the wire, hostile XML, and the listener's fault-injection hooks."""

from __future__ import annotations

import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests
import winrm
from winrm.exceptions import WSManFaultError
from winrm.protocol import Protocol

from harness.lab.wsman import LabCredentials, ListenerFaults, WSManListener
from harness.lab.wsman.soap import NS
from tests.wsman_fixtures import PERMISSIVE

ENVELOPE = """<s:Envelope xmlns:s="{s}" xmlns:a="{a}" xmlns:w="{w}"><s:Header>
<a:To>http://127.0.0.1/wsman</a:To><a:MessageID>{mid}</a:MessageID>
<w:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>
<a:Action s:mustUnderstand="true">{action}</a:Action><w:OperationTimeout>PT5S</w:OperationTimeout>
</s:Header><s:Body/></s:Envelope>"""


@pytest.fixture
def listener(make_listener: Callable[..., WSManListener]) -> WSManListener:
    """These tests post plain SOAP with Basic (readable on the wire): an explicit opt-in."""
    return make_listener(**PERMISSIVE)


def post(listener: WSManListener, creds: LabCredentials, body: bytes) -> requests.Response:
    return requests.post(
        listener.url,
        data=body,
        auth=(creds.username, creds.password),
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        timeout=10,
    )


def fault_of(response: requests.Response) -> dict[str, str]:
    root = ET.fromstring(response.content)
    fault = root.find("s:Body/s:Fault", NS)
    assert fault is not None, response.text
    detail = fault.find("s:Detail/f:WSManFault", NS)
    return {
        "code": fault.findtext("s:Code/s:Value", "", NS),
        "subcode": fault.findtext("s:Code/s:Subcode/s:Value", "", NS),
        "reason": fault.findtext("s:Reason/s:Text", "", NS),
        "wsman_code": detail.get("Code", "") if detail is not None else "",
        "relates_to": root.findtext("s:Header/a:RelatesTo", "", NS),
    }


def test_unknown_action_is_action_not_supported(
    listener: WSManListener, creds: LabCredentials
) -> None:
    mid = f"uuid:{uuid.uuid4()}"
    action = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
    body = ENVELOPE.format(action=action, mid=mid, **NS).encode()
    response = post(listener, creds, body)
    assert response.status_code == 500
    fault = fault_of(response)
    assert (fault["code"], fault["subcode"]) == ("s:Sender", "a:ActionNotSupported")
    assert fault["wsman_code"] == "2150858771"
    assert fault["relates_to"] == mid


def test_unknown_action_through_pywinrm(listener: WSManListener, creds: LabCredentials) -> None:
    p = Protocol(listener.url, transport="ntlm", username=creds.username, password=creds.password)
    message = ENVELOPE.format(action="urn:not-an-action", mid=f"uuid:{uuid.uuid4()}", **NS)
    with pytest.raises(WSManFaultError) as info:
        p.send_message(message)
    assert info.value.fault_subcode == "a:ActionNotSupported"
    assert info.value.code == 500


@pytest.mark.parametrize(
    "body",
    [b"<s:Envelope><unclosed", b"\x00\x01 not xml at all", b"<root/>", b"{}"],
    ids=["truncated", "binary", "not-soap", "json"],
)
def test_garbage_request_xml_is_a_400_fault(
    listener: WSManListener, creds: LabCredentials, body: bytes
) -> None:
    response = post(listener, creds, body)
    assert response.status_code == 400
    fault = fault_of(response)
    assert fault["subcode"] == "w:SchemaValidationError"
    assert fault["wsman_code"] == "2150858819"


def test_doctype_and_entities_are_refused(listener: WSManListener, creds: LabCredentials) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;">]>'
        + ENVELOPE.format(action="&l2;", mid="uuid:x", **NS).encode()
    )
    response = post(listener, creds, bomb)
    assert response.status_code == 400
    assert "DTD" in ET.fromstring(response.content).findtext(".//f:Message", "", NS)


def test_401_carries_no_body_and_offers_both_schemes(listener: WSManListener) -> None:
    response = requests.post(listener.url, data=b"<x/>", timeout=5)
    assert response.status_code == 401
    assert response.content == b""
    offered = response.headers["WWW-Authenticate"]
    assert "Negotiate" in offered
    assert 'Basic realm="WSMAN"' in offered


def test_wrong_path_is_404(listener: WSManListener, creds: LabCredentials) -> None:
    response = requests.post(
        listener.url.replace("/wsman", "/other"), data=b"x", auth=(creds.username, creds.password)
    )
    assert response.status_code == 404


def ntlm_session(listener: WSManListener, creds: LabCredentials) -> winrm.Session:
    return winrm.Session(listener.url, auth=(creds.username, creds.password), transport="ntlm")


def test_hook_garbage_response(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE, faults=ListenerFaults("garbage", frozenset({"Receive"})))
    with pytest.raises(ET.ParseError):
        ntlm_session(listener, creds).run_ps("x")


def test_hook_hang_makes_the_client_time_out(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE, faults=ListenerFaults("hang", frozenset({"Create"})))
    p = Protocol(
        listener.url,
        transport="basic",
        username=creds.username,
        password=creds.password,
        operation_timeout_sec=1,
        read_timeout_sec=2,
    )
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        p.open_shell()
    assert 1.5 < time.monotonic() - started < 10
    listener.stop()  # a hanging handler must not block stop()


def test_hook_close_drops_the_connection(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE, faults=ListenerFaults("close"))
    with pytest.raises(requests.exceptions.ConnectionError):
        ntlm_session(listener, creds).run_ps("x")


def test_hook_access_denied(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(
        **PERMISSIVE, faults=ListenerFaults("access_denied", frozenset({"Command"}))
    )
    with pytest.raises(WSManFaultError) as info:
        ntlm_session(listener, creds).run_ps("x")
    assert info.value.wsman_fault_code == 5
    assert info.value.fault_subcode == "w:AccessDenied"


def test_hooks_can_be_switched_off_at_run_time(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE, faults=ListenerFaults("close"))
    listener.faults.mode = None
    assert ntlm_session(listener, creds).run_ps("x").status_code == 0


def test_stop_frees_the_port_and_is_idempotent(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE)
    port = listener.port
    assert listener.url == f"http://127.0.0.1:{port}/wsman"
    ntlm_session(listener, creds).run_ps("x")
    listener.stop()
    listener.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        ntlm_session(listener, creds).run_ps("x")
    probe = socket.socket()
    probe.bind(("127.0.0.1", port))
    probe.close()


def test_stop_closes_idle_keep_alive_connections(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(**PERMISSIVE)
    p = Protocol(listener.url, transport="ntlm", username=creds.username, password=creds.password)
    p.open_shell()  # leaves an authenticated keep-alive connection open
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 3
