"""The lab's WinRM (WS-Management) endpoint: serves lab probe answers over HTTP on loopback."""

from __future__ import annotations

from harness.lab.wsman.auth import LabCredentials, NtlmUserStore
from harness.lab.wsman.server import ListenerFaults, ListenerStats, WSManListener
from harness.lab.wsman.shells import Answer, CommandOutcome

__all__ = [
    "Answer",
    "CommandOutcome",
    "LabCredentials",
    "ListenerFaults",
    "ListenerStats",
    "NtlmUserStore",
    "WSManListener",
]
