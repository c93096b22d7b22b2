"""WS-Management SOAP envelopes: request parsing, response rendering and Windows-style faults."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}

SHELL_URI = NS["rsp"]
CMD_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{SHELL_URI}/Command"
ACTION_RECEIVE = f"{SHELL_URI}/Receive"
ACTION_SIGNAL = f"{SHELL_URI}/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ADDRESSING_FAULT = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
STATE_DONE = f"{SHELL_URI}/CommandState/Done"
STATE_RUNNING = f"{SHELL_URI}/CommandState/Running"
DEFAULT_OPERATION_TIMEOUT_S = 60.0  # the Windows service default when a request names none

# The WSManFault codes Windows puts in f:WSManFault/@Code (HRESULTs 0x8033xxxx of wsmerror.h,
# decimal; names as in microsoft/windows-rs Win32::System::RemoteManagement).
CODE_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED
CODE_RESOURCE_NOT_FOUND = 2150858752  # 0x80338000 ERROR_WSMAN_RESOURCE_NOT_FOUND
CODE_INVALID_URI = 2150858754  # 0x80338002 ERROR_WSMAN_INVALID_URI
CODE_ACTION_NOT_SUPPORTED = 2150858771  # 0x80338013 ERROR_WSMAN_ACTION_NOT_SUPPORTED
CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
CODE_INVALID_XML = 2150858819  # 0x80338043 ERROR_WSMAN_INVALID_XML
CODE_SHELL_NOT_FOUND = 2150858843  # 0x8033805B ERROR_WSMAN_UNEXPECTED_SELECTORS
CODE_QUOTA_MAX_SHELLS = 2150859173  # 0x803381A5 ERROR_WSMAN_QUOTA_MAX_SHELLS
CODE_INVALID_PARAMETER = 87  # ERROR_INVALID_PARAMETER

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class SoapFault(Exception):
    """A WS-Management fault to send back instead of a normal response."""

    def __init__(
        self,
        http_status: int,
        code: str,
        subcode: str,
        reason: str,
        wsman_code: int | None = None,
        message: str | None = None,
        fault_detail: str | None = None,
        action: str = ACTION_FAULT,
    ) -> None:
        super().__init__(reason)
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.wsman_code = wsman_code
        self.message = message or reason
        self.fault_detail = fault_detail
        self.action = action


@dataclass
class WSManRequest:
    """The parts of a WS-Management request that the shell service needs."""

    action: str
    message_id: str
    resource_uri: str
    operation_timeout_s: float
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def parse_duration(text: str | None, default: float = DEFAULT_OPERATION_TIMEOUT_S) -> float:
    """Seconds of an xs:duration such as PT20S or PT1M30.5S (days and smaller only)."""
    if not text:
        return default
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"not an xs:duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def parse_request(data: bytes) -> WSManRequest:
    """Parse a SOAP envelope; malformed or hostile XML becomes a SoapFault."""
    # ElementTree expands internal entities; refusing DTDs outright closes billion-laughs and XXE.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise invalid_xml_fault("DTDs and entity declarations are not allowed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise invalid_xml_fault(str(exc)) from None
    if root.tag != f"{{{NS['s']}}}Envelope":
        raise invalid_xml_fault("the root element is not a SOAP 1.2 Envelope")
    header = root.find("s:Header", NS)
    if header is None:
        raise invalid_xml_fault("the envelope has no Header")
    action = _text(header.find("a:Action", NS))
    message_id = _text(header.find("a:MessageID", NS))
    try:
        timeout = parse_duration(_text(header.find("w:OperationTimeout", NS)) or None)
    except ValueError as exc:
        raise invalid_xml_fault(str(exc)) from None
    selectors = {
        sel.get("Name", ""): _text(sel) for sel in header.findall("w:SelectorSet/w:Selector", NS)
    }
    options = {
        opt.get("Name", ""): _text(opt) for opt in header.findall("w:OptionSet/w:Option", NS)
    }
    body_el = root.find("s:Body", NS)
    first = next(iter(body_el), None) if body_el is not None else None
    return WSManRequest(
        action=action,
        message_id=message_id,
        resource_uri=_text(header.find("w:ResourceURI", NS)),
        operation_timeout_s=timeout,
        selectors=selectors,
        options=options,
        body=first,
    )


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def new_uuid() -> str:
    """A fresh upper-case GUID, the way Windows prints shell and command ids."""
    return str(uuid.uuid4()).upper()


def envelope(action: str, relates_to: str, body: str, extra_ns: tuple[str, ...] = ()) -> bytes:
    """A response envelope with the addressing headers Windows sends."""
    prefixes = ("s", "a", "x", "w", "p", "rsp", *extra_ns)
    xmlns = " ".join(f'xmlns:{p}="{NS[p]}"' for p in dict.fromkeys(prefixes))
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    text = (
        f'<s:Envelope xml:lang="en-US" {xmlns}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{new_uuid()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>{relates}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def shell_created(
    url: str,
    resource_uri: str,
    shell_id: str,
    owner: str,
    client_ip: str,
    streams: tuple[str, str],
    name: str | None = None,
) -> str:
    """The body of a Create response: the new shell's endpoint reference and its properties
    (`name`, e.g. WinRM1 for a PowerShell runspace pool, which Windows also puts in an attribute).
    """
    uri = escape(resource_uri)
    selector = f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
    opening = f'<rsp:Shell ShellId="{shell_id}">' if name else "<rsp:Shell>"
    named = f"<rsp:Name>{escape(name)}</rsp:Name>" if name else ""
    return (
        f"<x:ResourceCreated><a:Address>{escape(url)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{uri}</w:ResourceURI>{selector}"
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"{opening}<rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"{named}<rsp:ResourceUri>{uri}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner><rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(streams[0])}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(streams[1])}</rsp:OutputStreams>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )


def render_fault(fault: SoapFault, relates_to: str, machine: str) -> bytes:
    """The s:Fault envelope Windows returns, with f:WSManFault detail when it has a code."""
    detail = ""
    if fault.fault_detail:
        detail += f"<w:FaultDetail>{escape(fault.fault_detail)}</w:FaultDetail>"
    if fault.wsman_code is not None:
        detail += (
            f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.wsman_code}" '
            f"Machine={quoteattr(machine)}><f:Message>{escape(fault.message)} </f:Message>"
            "</f:WSManFault>"
        )
    body = (
        "<s:Fault><s:Code>"
        f"<s:Value>{fault.code}</s:Value>"
        f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)} </s:Text></s:Reason>'
        f"{f'<s:Detail>{detail}</s:Detail>' if detail else ''}</s:Fault>"
    )
    return envelope(fault.action, relates_to, body)


def invalid_xml_fault(detail: str) -> SoapFault:
    """Malformed request XML: HTTP 400, as Windows answers a body it cannot parse."""
    text = "The WS-Management service cannot process the request because the XML is invalid."
    return SoapFault(
        400, "s:Sender", "w:SchemaValidationError", text, CODE_INVALID_XML, f"{text} {detail}"
    )


def action_not_supported_fault(action: str) -> SoapFault:
    """An action this service does not implement (WS-Addressing ActionNotSupported)."""
    return SoapFault(
        500,
        "s:Sender",
        "a:ActionNotSupported",
        "The action is not supported by the service.",
        CODE_ACTION_NOT_SUPPORTED,
        "The WS-Management service does not support the action specified in the request. "
        f"Action: {action or '(none)'}",
        action=ADDRESSING_FAULT,
    )


def operation_timeout_fault() -> SoapFault:
    """Receive had nothing to return within the request's OperationTimeout."""
    text = (
        "The WS-Management service cannot complete the operation within the time specified in "
        "OperationTimeout."
    )
    return SoapFault(500, "s:Receiver", "w:TimedOut", text, CODE_OPERATION_TIMEOUT)


def invalid_selectors_fault(shell_id: str) -> SoapFault:
    """A ShellId this service does not know (never created, or deleted)."""
    return SoapFault(
        500,
        "s:Sender",
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained "
        "invalid selectors for the resource.",
        CODE_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id or '(none)'} failed "
        "because the shell was not found on the server. Possible causes are: the specified "
        "ShellId is incorrect or the shell no longer exists on the server. Provide the correct "
        "ShellId or create a new shell and retry the operation.",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
    )


def unknown_command_fault(command_id: str) -> SoapFault:
    """A CommandId that does not exist in the shell."""
    return SoapFault(
        500,
        "s:Sender",
        "w:InvalidParameter",
        "The parameter is incorrect.",
        CODE_INVALID_PARAMETER,
        "The Windows Remote Shell received a request to perform an operation on a command "
        f"identifier that does not exist ({command_id or 'none'}). Either the command has "
        "completed execution or the client specified an invalid command identifier.",
    )


def access_denied_fault() -> SoapFault:
    """Authenticated but not authorised (Windows: the user is not in the WinRM users' groups)."""
    return SoapFault(500, "s:Sender", "w:AccessDenied", "Access is denied.", CODE_ACCESS_DENIED)


def invalid_uri_fault(resource_uri: str) -> SoapFault:
    """A ResourceURI that is missing or not a URI (ERROR_WSMAN_INVALID_URI)."""
    text = (
        "The WS-Management service cannot process the request. The resource URI is missing or "
        "it has an incorrect format."
    )
    return SoapFault(
        500,
        "s:Sender",
        "w:DestinationUnreachable",
        text,
        CODE_INVALID_URI,
        f"{text} Resource URI: {resource_uri or '(none)'}",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI",
    )


def resource_not_found_fault() -> SoapFault:
    """A well-formed ResourceURI this service does not serve (ERROR_WSMAN_RESOURCE_NOT_FOUND)."""
    return SoapFault(
        500,
        "s:Sender",
        "w:DestinationUnreachable",
        "The WS-Management service cannot process the request. The service cannot find the "
        "resource identified by the resource URI and selectors.",
        CODE_RESOURCE_NOT_FOUND,
    )


def shell_quota_fault() -> SoapFault:
    """Create beyond winrm/config/winrs/MaxShellsPerUser (MS-WSMV 3.1.4.5.2.1 wsman:QuotaLimit)."""
    return SoapFault(
        500,
        "s:Sender",
        "w:QuotaLimit",
        "The WS-Management service cannot process the request. This user is allowed a maximum "
        "number of shells, which has been exceeded.",
        CODE_QUOTA_MAX_SHELLS,
        "The Windows Remote Shell cannot process the request. The server is already executing "
        "the maximum number of concurrent shells a user can remotely open on the same system. "
        "Retry later.",
    )
