"""Classify pywinrm/requests failures and map them to the project's errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests
import urllib3.exceptions
from winrm.exceptions import (
    AuthenticationError as WinRMAuthenticationError,
)
from winrm.exceptions import (
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from harness.errors import AuthenticationError, TransportError, TransportTimeoutError

# WS-Management fault codes as Windows puts them in f:WSManFault/@Code: decimal HRESULTs of
# wsmerror.h (names and values as in microsoft/windows-rs, Win32::System::RemoteManagement).
ACCESS_DENIED_CODE = 5  # ERROR_ACCESS_DENIED
INVALID_URI_CODE = 2150858754  # 0x80338002 ERROR_WSMAN_INVALID_URI: resource URI missing/malformed
OPERATION_TIMEOUT_CODE = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
# 0x8033805B ERROR_WSMAN_UNEXPECTED_SELECTORS: for a ShellId, "the shell was not found".
SHELL_NOT_FOUND_CODE = 2150858843
QUOTA_MAX_SHELLS_CODE = 2150859173  # 0x803381A5 ERROR_WSMAN_QUOTA_MAX_SHELLS
QUOTA_MAX_OPERATIONS_CODE = 2150859174  # 0x803381A6 ERROR_WSMAN_QUOTA_MAX_OPERATIONS
KEY_DELETED_CODE = 2147943418  # 0x800703FA HRESULT of ERROR_KEY_DELETED (a shell being torn down)
# Faults after which a client opens a fresh shell and sends again (WinRb/WinRM's
# FAULTS_FOR_RESET: shell closed, registry key error, too many operations; plus the shell quota).
QUOTA_CODES = frozenset({QUOTA_MAX_SHELLS_CODE, QUOTA_MAX_OPERATIONS_CODE})
RESET_CODES = frozenset({SHELL_NOT_FOUND_CODE, KEY_DELETED_CODE, *QUOTA_CODES})


# requests-credssp's exceptions (an optional package: matched by name, not imported).
_CREDSSP_REFUSALS = frozenset({"AuthenticationException", "NTStatusException"})


@dataclass(frozen=True)
class Fault:
    """What the session needs to know about a failure: which error, and how to react."""

    kind: type[TransportError]
    detail: str
    transient: bool = False  # worth retrying after a backoff
    shell_gone: bool = False  # reopen the shell once and send the command again
    shell_alive: bool = False  # with shell_gone: the old shell still exists; delete it first
    answered: bool = False  # the server replied with an error: it did not act on the request
    connect_failed: bool = False  # nothing was sent: the request cannot have been acted upon

    def error(self, label: str, note: str = "") -> TransportError:
        """The project's exception for this fault at endpoint `label`."""
        return self.kind(label, f"{self.detail}{note}")


def _connect_failed(exc: requests.ConnectionError) -> bool:
    """True when no byte of the request can have reached the server (refused, unreachable)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def classify(exc: BaseException) -> Fault:
    """Map one exception raised by pywinrm/requests to a Fault."""
    name = type(exc).__name__
    if isinstance(exc, WinRMAuthenticationError):
        return Fault(
            AuthenticationError, f"the server rejected the credentials ({exc})", answered=True
        )
    if name in _CREDSSP_REFUSALS:
        # requests-credssp: CredSSP not offered, or the logon refused (e.g. SEC_E_LOGON_DENIED).
        return Fault(AuthenticationError, f"the server refused CredSSP ({exc})", answered=True)
    if isinstance(exc, PermissionError):
        # requests-ntlm: the server answered NTLM's first message without a challenge.
        return Fault(AuthenticationError, f"the server refused NTLM ({exc})", answered=True)
    if isinstance(exc, WinRMOperationTimeoutError):
        # pywinrm turns this fault into its own exception outside Receive too: transient.
        return Fault(
            TransportTimeoutError,
            "WS-Management operation timed out on the server",
            transient=True,
            answered=True,
        )
    if isinstance(exc, WSManFaultError):
        return _classify_fault(exc)
    if isinstance(exc, WinRMTransportError):
        return Fault(
            TransportError,
            f"HTTP {exc.code} without a WS-Management fault",
            transient=exc.code >= 500,
            answered=True,
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return Fault(
            TransportError,
            f"TLS verification failed ({name}: {exc}); give the server's CA with the "
            "ca_bundle option, or (unsafe) turn verification off with verify_tls: false",
            connect_failed=True,
        )
    if isinstance(exc, requests.ReadTimeout):
        return Fault(TransportTimeoutError, f"no answer within the read timeout ({exc})")
    if isinstance(exc, requests.ConnectionError):
        kind = TransportTimeoutError if isinstance(exc, requests.ConnectTimeout) else TransportError
        return Fault(kind, f"{name}: {exc}", transient=True, connect_failed=_connect_failed(exc))
    if isinstance(exc, ET.ParseError | StopIteration | KeyError | AssertionError | ValueError):
        return Fault(TransportError, f"malformed WS-Management response ({name}: {exc})")
    if isinstance(exc, WinRMError | requests.RequestException):
        return Fault(TransportError, f"{name}: {exc}")
    return Fault(TransportError, f"unexpected {name}: {exc}")


def _classify_fault(exc: WSManFaultError) -> Fault:
    code = exc.wsman_fault_code
    subcode = (exc.fault_subcode or "").rsplit(":", 1)[-1]
    detail = f"WS-Management fault {code or subcode or exc.code}: {exc.reason}"
    if code == ACCESS_DENIED_CODE or subcode == "AccessDenied":
        return Fault(AuthenticationError, detail, answered=True)
    if code in QUOTA_CODES or subcode == "QuotaLimit":
        # Too many shells or operations for this user: a fresh shell (ours deleted first) may
        # get through; if not, back off and try again, as the quota frees up.
        return Fault(
            TransportError, detail, transient=True, shell_gone=True, shell_alive=True, answered=True
        )
    if code in RESET_CODES or subcode == "InvalidSelectors":
        return Fault(TransportError, detail, shell_gone=True, answered=True)
    if code == OPERATION_TIMEOUT_CODE:
        return Fault(TransportTimeoutError, detail, transient=True, answered=True)
    # A fault is the server's definite answer (the request was refused): retrying won't help,
    # except when a gateway or an overloaded service says so.
    return Fault(TransportError, detail, transient=exc.code in (502, 503, 504), answered=True)
