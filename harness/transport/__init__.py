"""WinRM client side: endpoint configuration, reusable PowerShell sessions, CLIXML decoding."""

from __future__ import annotations

from harness.transport.clixml import decode_clixml, error_message
from harness.transport.endpoint import TRANSPORTS, Endpoint
from harness.transport.session import ScriptResult, WinRMSession

__all__ = [
    "TRANSPORTS",
    "Endpoint",
    "ScriptResult",
    "WinRMSession",
    "decode_clixml",
    "error_message",
]
