"""Who a lab session is: the logon the wire authentication produced, and whether it can hop on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

# How each WinRM authentication leaves the remote logon (Ansible's WinRM authentication table and
# Microsoft's "second hop" page): only a logon holding credentials (CredSSP, Kerberos with a
# delegated ticket) can authenticate to a third machine such as an SMB share.
METHODS = ("basic", "ntlm", "kerberos", "credssp", "certificate", "in-process")


@dataclass(frozen=True)
class Logon:
    """The identity a remote session runs as, as the wire authentication established it.

    user: the authenticated account (DOMAIN\\user or user@REALM); method: basic, ntlm, kerberos,
    credssp, certificate, or in-process (the lab answered without a wire); network_credentials:
    whether the logon holds credentials it can present to another machine (the second hop).
    """

    user: str
    method: str
    network_credentials: bool

    @classmethod
    def of(cls, user: str, method: str, *, delegated: bool = False) -> Logon:
        """The logon `method` produces: CredSSP always, Kerberos when a ticket was delegated."""
        if method not in METHODS:
            raise ValueError(f"unknown logon method {method!r}")
        hop = method == "credssp" or (method == "kerberos" and delegated)
        return cls(user, method, hop)

    @property
    def session_logon(self) -> str:
        """The logon as the lab's session model names it (harness.lab.session.LOGONS)."""
        if self.method == "credssp":
            return "credssp"
        if self.method == "kerberos":
            return "kerberos-delegated" if self.network_credentials else "kerberos"
        # NTLM, Basic, a certificate: a network logon without credentials for a second hop.
        return "ntlm"


_current: ContextVar[Logon | None] = ContextVar("qmaudit_lab_logon", default=None)


def current_logon() -> Logon | None:
    """The logon of the session whose command is being answered (None: not over the wire)."""
    return _current.get()


@contextlib.contextmanager
def logon_scope(logon: Logon | None) -> Iterator[None]:
    """Answer a command as `logon` (the listener's command thread sets it around the answer)."""
    token = _current.set(logon)
    try:
        yield
    finally:
        _current.reset(token)
