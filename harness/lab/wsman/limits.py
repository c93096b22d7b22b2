"""The WinRM service's limits, as Windows enforces them, for the lab endpoint.

Sources (one row each in docs/windows-fidelity.md):
- MaxEnvelopeSizekb 500 (winrm/config; MS-WSMV 2.2.4.10): a bigger request is refused with
  HTTP 413, which clients report as "the request size exceeded the configured MaxEnvelopeSize
  quota" (ansible.windows#391: 413 at the default 500).
- MaxConnections 300 (winrm/config/service): active connections at once.
- IdleTimeout 7,200,000 ms (winrm/config/winrs): an idle shell is reclaimed.
- HTTP.sys timers (HTTP Server API): IdleConnection, HeaderWait and EntityBody 120 s.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any

# multipart/encrypted framing around an encrypted envelope: boundaries, headers, the NTLM/
# Kerberos signature (a few hundred bytes); the envelope itself is what MaxEnvelopeSizekb caps.
ENCRYPTION_OVERHEAD = 4096
_CHUNK = 64 * 1024


class RequestRefused(Exception):
    """A request the endpoint answers with an HTTP status and then closes the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class EndpointLimits:
    """What one lab listener accepts (Windows' defaults unless a test narrows them)."""

    max_envelope_kb: int = 500  # winrm/config MaxEnvelopeSizekb
    max_connections: int = 300  # winrm/config/service MaxConnections
    idle_connection_s: float = 120.0  # HTTP.sys IdleConnection / HeaderWait timers
    entity_body_s: float = 120.0  # HTTP.sys EntityBody timer: the whole body within this
    shell_idle_timeout_s: float = 7200.0  # winrm/config/winrs IdleTimeout

    @property
    def max_envelope_bytes(self) -> int:
        return self.max_envelope_kb * 1024

    @property
    def max_body_bytes(self) -> int:
        """The largest HTTP body read: an envelope at the limit, encrypted."""
        return self.max_envelope_bytes + ENCRYPTION_OVERHEAD


def content_length(values: Iterable[str] | None) -> int:
    """The request's body length from its Content-Length header(s); RequestRefused(400) for
    a value that is not one non-negative decimal number (conflicting duplicates included)."""
    found = {v.strip() for v in values or ()}
    if not found:
        return 0
    if len(found) > 1:
        raise RequestRefused(400, "conflicting Content-Length headers")
    (text,) = found
    if not text.isdigit() or len(text) > 18:
        raise RequestRefused(400, f"bad Content-Length {text[:40]!r}")
    return int(text)


def check_length(length: int, limits: EndpointLimits) -> None:
    """RequestRefused(413) before reading a body larger than the envelope limit allows."""
    if length > limits.max_body_bytes:
        raise RequestRefused(
            413, f"request of {length} bytes exceeds MaxEnvelopeSizekb {limits.max_envelope_kb}"
        )


def check_envelope(envelope: bytes, limits: EndpointLimits) -> None:
    """RequestRefused(413) for a (decrypted) SOAP envelope over MaxEnvelopeSizekb."""
    if len(envelope) > limits.max_envelope_bytes:
        raise RequestRefused(
            413,
            f"envelope of {len(envelope)} bytes exceeds MaxEnvelopeSizekb {limits.max_envelope_kb}",
        )


def read_body(rfile: BufferedIOBase, length: int, limits: EndpointLimits) -> bytes:
    """Exactly `length` bytes within the EntityBody timer (the socket timeout bounds each
    read; the deadline bounds a client trickling bytes); RequestRefused(408) otherwise."""
    deadline = time.monotonic() + limits.entity_body_s
    chunks: list[bytes] = []
    left = length
    while left > 0:
        if time.monotonic() > deadline:
            raise RequestRefused(408, "request body not received within the EntityBody timer")
        try:
            chunk = rfile.read1(min(_CHUNK, left))
        except TimeoutError:
            raise RequestRefused(408, "request body timed out") from None
        if not chunk:
            raise RequestRefused(400, "connection closed before the announced Content-Length")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class ConnectionGate:
    """Counts a listener's open connections; refuses past MaxConnections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()
        self.refused = 0

    def enter(self) -> bool:
        with self._lock:
            if self._open >= self.limit:
                self.refused += 1
                return False
            self._open += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)

    @property
    def open(self) -> int:
        with self._lock:
            return self._open


def refuse_connection(conn: socket.socket, status: int = 503) -> None:
    """Answer a refused connection with a bare HTTP status and close it."""
    reason = {503: "Service Unavailable", 413: "Request Entity Too Large"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nServer: Microsoft-HTTPAPI/2.0\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    try:
        conn.settimeout(1.0)
        conn.sendall(head.encode("ascii"))
    except OSError:
        pass


class ShellReaper:
    """Reclaims shells no request touched for IdleTimeout (Windows deletes them)."""

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.reclaimed = 0

    def touch(self, shell_id: str) -> None:
        if shell_id:
            with self._lock:
                self._seen[shell_id.upper()] = self.clock()

    def sweep(self, ids: Iterable[str], delete: Callable[[str], Any]) -> list[str]:
        """Delete the shells idle for longer than IdleTimeout; the ids reclaimed."""
        now = self.clock()
        gone = []
        with self._lock:
            live = {i.upper() for i in ids}
            self._seen = {k: v for k, v in self._seen.items() if k in live}
            for shell_id in live:
                last = self._seen.setdefault(shell_id, now)
                if now - last > self.idle_s:
                    gone.append(shell_id)
                    del self._seen[shell_id]
        for shell_id in gone:
            delete(shell_id)
        self.reclaimed += len(gone)
        return gone
