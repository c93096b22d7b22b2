"""WinRM endpoint configuration: where a node listens, how to authenticate, timeouts and retries."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from harness.errors import InputError
from harness.redact import register_secret

Transport = Literal["ntlm", "kerberos", "credssp", "basic", "certificate"]
TRANSPORTS: tuple[str, ...] = ("ntlm", "kerberos", "credssp", "basic", "certificate")
SESSIONS: tuple[str, ...] = ("auto", "psrp", "winrs")
_DEFAULT_PORTS = {"https": 5986, "http": 5985}


@dataclass(frozen=True)
class Endpoint:
    """One node's WinRM listener and the client settings used to talk to it."""

    node: str
    host: str
    port: int | None = None
    scheme: str = "https"
    path: str = "/wsman"
    transport: str = "ntlm"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    # Kerberos: the name of the node's HTTP/<name> SPN when `host` is not it (an IP address),
    # whether to delegate a forwardable ticket (second hop), and where the ticket comes from
    # when no password is given: a keytab, or a credential cache (default: KRB5CCNAME).
    kerberos_hostname: str | None = None
    kerberos_delegation: bool = False
    kerberos_keytab: str | None = None
    kerberos_ccache: str | None = None
    # Extended Protection: send a channel binding token on HTTPS (Windows' CbtHardeningLevel).
    send_cbt: bool = True
    operation_timeout_s: float = 20.0
    read_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    # How probes run: a PowerShell runspace per node (psrp), a powershell.exe per probe (winrs),
    # or auto (PSRP, WinRS when the node has no PowerShell remoting); harness/transport/psrp.py.
    session: str = "auto"
    configuration_name: str | None = None  # a JEA session configuration; None: the default

    def __post_init__(self) -> None:
        # Register first: whatever goes wrong below must not leak the password in a message.
        register_secret(self.password)
        source = f"endpoint {self.node!r}"
        if not self.node:
            raise InputError(source, "node", "node name is empty")
        if not self.host:
            raise InputError(source, "host", "host is empty")
        if self.scheme not in _DEFAULT_PORTS:
            raise InputError(source, "scheme", f"must be 'https' or 'http', not {self.scheme!r}")
        if self.port is None:
            object.__setattr__(self, "port", _DEFAULT_PORTS[self.scheme])
        elif not 0 < self.port < 65536:
            raise InputError(source, "port", f"{self.port} is not a TCP port")
        if not self.path.startswith("/"):
            object.__setattr__(self, "path", "/" + self.path)
        if self.transport not in TRANSPORTS:
            raise InputError(
                source, "transport", f"{self.transport!r} is not one of {', '.join(TRANSPORTS)}"
            )
        if self.session not in SESSIONS:
            raise InputError(
                source, "session", f"{self.session!r} is not one of {', '.join(SESSIONS)}"
            )
        self._check_credentials(source)
        self._check_timeouts(source)
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise InputError(source, "ca_bundle", f"CA bundle {self.ca_bundle!r} does not exist")
        if self.kerberos_keytab is not None and not os.path.exists(self.kerberos_keytab):
            raise InputError(
                source, "kerberos_keytab", f"keytab {self.kerberos_keytab!r} does not exist"
            )
        if self.transport == "credssp" and self.scheme != "https":
            # CredSSP hands the password to the node: only inside TLS whose server is verified.
            raise InputError(source, "transport", "credssp needs scheme https")

    def _check_credentials(self, source: str) -> None:
        if self.transport == "certificate":
            if self.scheme != "https":
                raise InputError(source, "transport", "certificate authentication needs https")
            for name in ("cert_pem", "cert_key_pem"):
                path = getattr(self, name)
                if not path:
                    raise InputError(source, name, "certificate transport needs this file")
                if not os.path.exists(path):
                    raise InputError(source, name, f"file {path!r} does not exist")
        elif self.transport != "kerberos":
            # Kerberos may use the ticket cache; the others need an explicit user and password.
            if not self.username:
                raise InputError(source, "username", f"{self.transport} needs a username")
            if self.password is None:
                raise InputError(source, "password", f"{self.transport} needs a password")

    def _check_timeouts(self, source: str) -> None:
        for name in ("operation_timeout_s", "read_timeout_s", "connect_timeout_s"):
            if not getattr(self, name) > 0:
                raise InputError(source, name, "must be a positive number of seconds")
        if self.operation_timeout_s < 1:
            raise InputError(source, "operation_timeout_s", "WS-Management needs at least 1 s")
        if not self.read_timeout_s > self.operation_timeout_s:
            # The server may legitimately hold a Receive for the whole operation timeout.
            raise InputError(
                source,
                "read_timeout_s",
                f"must exceed operation_timeout_s ({self.read_timeout_s} <= "
                f"{self.operation_timeout_s})",
            )
        if self.retries < 0:
            raise InputError(source, "retries", "must be 0 or more")
        if self.backoff_s < 0 or self.backoff_max_s < 0:
            raise InputError(source, "backoff_s", "must be 0 or more")

    @property
    def url(self) -> str:
        """The WS-Management URL, e.g. https://node1.example:5986/wsman."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def kerberos_host(self) -> str:
        """The host part of the node's HTTP service principal (HTTP/<this>)."""
        return self.kerberos_hostname or self.host

    @property
    def label(self) -> str:
        """How messages name this endpoint: node and URL (never credentials)."""
        return f"{self.node} ({self.url})"

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based): exponential, capped."""
        return float(min(self.backoff_max_s, self.backoff_s * (2**attempt)))
