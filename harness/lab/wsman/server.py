"""The HTTP side of the lab's WinRM endpoint: one listener per node on loopback, with test hooks."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import spnego.channel_bindings

from harness.lab.cost import OFF, WindowsCost
from harness.lab.logon import logon_scope
from harness.lab.wsman import soap
from harness.lab.wsman.auth import (
    AuthState,
    ConnectionAuth,
    LabCredentials,
)
from harness.lab.wsman.limits import (
    ConnectionGate,
    EndpointLimits,
    RequestRefused,
    ShellReaper,
    check_envelope,
    check_length,
    content_length,
    read_body,
    refuse_connection,
)
from harness.lab.wsman.psrp import PsrpService, SessionConfiguration
from harness.lab.wsman.service import MAX_SHELLS_PER_USER, ShellService
from harness.lab.wsman.shells import Answer, ShellStore
from harness.lab.wsman.soap import SoapFault
from harness.lab.wsman.tls import TlsFiles

log = logging.getLogger(__name__)

FaultMode = Literal["hang", "garbage", "close", "access_denied"]
# A default Windows WinRM service accepts Negotiate (NTLM/Kerberos), not Basic, and only
# encrypted messages over HTTP (winrm/config/service: Basic=false, AllowUnencrypted=false).
DEFAULT_AUTH: tuple[str, ...] = ("ntlm",)
# The explicit opt-in for clients that cannot encrypt: Basic and plaintext SOAP over HTTP.
PERMISSIVE_AUTH: tuple[str, ...] = ("ntlm", "basic")
# A domain member: Negotiate offers Kerberos (needs the lab's keytab) besides NTLM.
DOMAIN_AUTH: tuple[str, ...] = ("ntlm", "kerberos")
# A hardened domain: NTLM refused ("Restrict NTLM: Incoming NTLM traffic" = Deny all).
NO_NTLM_AUTH: tuple[str, ...] = ("kerberos",)
AUTH_METHODS = frozenset({"ntlm", "kerberos", "credssp", "basic"})
# How long a client may take over its TLS handshake before the listener drops it.
TLS_HANDSHAKE_S = 10.0
_SHORT_ACTIONS = {
    soap.ACTION_CREATE: "Create",
    soap.ACTION_COMMAND: "Command",
    soap.ACTION_RECEIVE: "Receive",
    soap.ACTION_SIGNAL: "Signal",
    soap.ACTION_DELETE: "Delete",
}


@dataclass
class ListenerFaults:
    """Misbehaviour to inject, checked on every authenticated request (tests set it any time).

    mode: hang (never answer until stop or `hang_s`), garbage (200 with a body that is not
    XML), close (drop the connection without answering), access_denied (the WS-Man fault).
    actions: short action names (Create, Command, Receive, Signal, Delete) it applies to;
    None means every request.
    """

    mode: FaultMode | None = None
    actions: frozenset[str] | None = None
    hang_s: float | None = None

    def applies(self, action: str) -> bool:
        if self.mode is None:
            return False
        return self.actions is None or _SHORT_ACTIONS.get(action, action) in self.actions


@dataclass
class ListenerStats:
    """Counters the tests read: accepted TCP connections and what the requests looked like."""

    connections: int = 0
    requests: int = 0
    encrypted_requests: int = 0
    plaintext_requests: int = 0
    auth_failures: int = 0
    refused: int = 0  # requests refused by a limit (limits.py): 400, 408, 413
    unencrypted_refused: int = 0
    content_types: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str, content_type: str | None = None) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)
            if content_type is not None:
                self.content_types.append(content_type)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    listener: WSManListener

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        self.listener._track(conn)
        self.listener.stats.bump("connections")
        return conn, addr

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # MaxConnections: past it, a bare 503 and the connection closed (limits.py).
        if not self.listener._gate.enter():
            refuse_connection(request)
            return False
        self.listener._admitted.add(id(request))
        return True

    def shutdown_request(self, request: Any) -> None:
        if id(request) in self.listener._admitted:
            self.listener._admitted.discard(id(request))
            self.listener._gate.leave()
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        listener = self.server.listener
        self.handshake_failed = False
        if listener.tls is not None:
            # The handshake happens here, on the connection's own thread, never in accept().
            try:
                self.request.settimeout(TLS_HANDSHAKE_S)
                self.request.do_handshake()
            except OSError as exc:
                # A client that refused our certificate or spoke no TLS: nothing to answer.
                log.debug("TLS handshake with %s failed: %s", listener.node, exc)
                self.handshake_failed = True
        super().setup()
        # HTTP.sys' IdleConnection/HeaderWait timers: a silent connection is closed.
        self.connection.settimeout(listener.limits.idle_connection_s)
        self.auth = ConnectionAuth(
            listener.credentials, listener.auth_methods, listener.channel_bindings
        )

    def handle(self) -> None:
        if self.handshake_failed:
            return
        try:
            super().handle()
        except OSError as exc:
            # A client that failed or abandoned its TLS handshake: nothing to answer.
            log.debug("connection to %s dropped: %s", self.server.listener.node, exc)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.server.listener.node, format % args)

    def do_GET(self) -> None:
        self._read_body()
        self._send(405, b"", {"Allow": "POST"})

    def do_POST(self) -> None:
        try:
            self._post()
        except Exception:
            # Whatever a client sends, it gets an HTTP answer, never a dropped connection.
            log.debug("request on %s failed", self.server.listener.node, exc_info=True)
            self.close_connection = True
            self._send(500, b"")

    def _post(self) -> None:
        listener = self.server.listener
        length = self._body_length()
        if length is None:
            return
        if not self.auth.authenticated and not self.headers.get("Authorization"):
            # Authentication before the body: an anonymous request's body is never read.
            self.close_connection = self.close_connection or length > 0
            self._send(401, b"", [("WWW-Authenticate", v) for v in self.auth.challenge_headers()])
            return
        body = self._read_exact(length)
        if body is None:
            return
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            self._send(404, b"")
            return
        result = self.auth.examine(self.headers.get("Authorization"))
        token = {"WWW-Authenticate": result.www_authenticate} if result.www_authenticate else {}
        if result.state is AuthState.CONTINUE:
            self._send(401, b"", token)
            return
        if result.state is AuthState.DENIED:
            if self.headers.get("Authorization"):
                listener.stats.bump("auth_failures")
            self._send(401, b"", [("WWW-Authenticate", v) for v in self.auth.challenge_headers()])
            return
        if not body:
            # pywinrm's empty POST that sets up the NTLM context before encryption starts.
            self._send(200, b"", token)
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        listener.stats.bump("requests", content_type)
        listener.stats.bump("encrypted_requests" if encrypted else "plaintext_requests")
        # AllowUnencrypted concerns HTTP only: on HTTPS the TLS channel is the encryption.
        if not encrypted and not listener.allow_unencrypted and listener.tls is None:
            # AllowUnencrypted=false: Windows answers a plaintext SOAP body over HTTP with a bare
            # HTTP 500 (and logs "unencrypted message ... forbidden").
            listener.stats.bump("unencrypted_refused")
            self._send(500, b"", token)
            return
        try:
            plain = self.auth.unseal(content_type, body) if encrypted else body
        except ValueError as exc:
            log.debug("undecryptable request on %s: %s", listener.node, exc)
            self._send(400, b"")
            return
        try:
            check_envelope(plain, listener.limits)
        except RequestRefused as refused:
            self._refuse(refused)
            return
        status, reply = self._dispatch(plain)
        if status == 0:
            return
        if encrypted:
            self._send(
                status,
                self.auth.seal(reply),
                {"Content-Type": self.auth.encrypted_content_type, **token},
            )
        else:
            self._send(
                status, reply, {"Content-Type": "application/soap+xml;charset=UTF-8", **token}
            )

    def _dispatch(self, plain: bytes) -> tuple[int, bytes]:
        """Status and plaintext reply; status 0 means: send nothing (a fault hook fired)."""
        listener = self.server.listener
        message_id = ""
        try:
            request = soap.parse_request(plain)
            message_id = request.message_id
            faults = listener.faults
            if faults.applies(request.action):
                if faults.mode == "access_denied":
                    raise soap.access_denied_fault()
                if faults.mode == "garbage":
                    return 200, b"<s:Envelope><this is not XML"
                if faults.mode == "hang":
                    listener._stopping.wait(faults.hang_s)
                self.close_connection = True
                return 0, b""
            owner = self.auth.creds.qualified_username
            listener._reap_idle_shells(request.selectors.get("ShellId", ""))
            with logon_scope(self.auth.logon):
                reply = listener._service.handle(request, owner, self.client_address[0])
            return 200, reply
        except SoapFault as fault:
            return fault.http_status, soap.render_fault(fault, message_id, listener.node)

    def _read_body(self) -> bytes | None:
        length = self._body_length()
        return None if length is None else self._read_exact(length)

    def _body_length(self) -> int | None:
        """The announced body length, checked against the limits before any byte is read."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(411, b"")
            self.close_connection = True
            return None
        try:
            length = content_length(self.headers.get_all("Content-Length"))
            check_length(length, self.server.listener.limits)
        except RequestRefused as refused:
            self._refuse(refused)
            return None
        return length

    def _read_exact(self, length: int) -> bytes | None:
        try:
            return read_body(self.rfile, length, self.server.listener.limits) if length else b""
        except RequestRefused as refused:
            self._refuse(refused)
            return None

    def _refuse(self, refused: RequestRefused) -> None:
        log.debug("refused on %s: %s", self.server.listener.node, refused.reason)
        self.server.listener.stats.bump("refused")
        self.close_connection = True
        self._send(refused.status, b"")

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        # One write for status line, headers and body: no delayed-ACK stall between them.
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"HTTP/1.1 {status} {reason}",
            "Server: Microsoft-HTTPAPI/2.0",
            f"Date: {formatdate(usegmt=True)}",
            *(f"{k}: {v}" for k, v in items),
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.log_request(status, len(body))
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True


class WSManListener:
    """A WS-Management endpoint for one lab node, on its own port and threads."""

    def __init__(
        self,
        node: str,
        answer: Answer,
        credentials: LabCredentials,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: tuple[str, ...] = DEFAULT_AUTH,
        faults: ListenerFaults | None = None,
        *,
        allow_unencrypted: bool = False,
        max_shells_per_user: int = MAX_SHELLS_PER_USER,
        command_start_s: float = 0.0,
        tls: TlsFiles | None = None,
        cbt_strict: bool = True,
        cost: WindowsCost | None = None,
        psrp: bool = True,
        configurations: Mapping[str, SessionConfiguration] | None = None,
        limits: EndpointLimits | None = None,
    ) -> None:
        self.node = node
        self.limits = limits or EndpointLimits()
        self._gate = ConnectionGate(self.limits.max_connections)
        self._admitted: set[int] = set()
        self._reaper = ShellReaper(self.limits.shell_idle_timeout_s)
        # PowerShell remoting (runspace pools) besides WinRS; False: an endpoint without PSRP.
        self.psrp_enabled = psrp
        self.configurations = configurations
        self.cost = cost
        self._answer = answer
        self.psrp: PsrpService | None = None
        self.credentials = credentials
        self.host = host
        self.auth_methods = tuple(a.lower() for a in auth)
        unknown = set(self.auth_methods) - AUTH_METHODS
        if unknown:
            raise ValueError(f"unknown authentication method(s): {', '.join(sorted(unknown))}")
        # HTTPS: a TLS listener (HTTP.sys with the listener's certificate).
        self.tls = tls
        # Extended Protection on HTTPS: the acceptors check the client's channel binding token
        # against this certificate (CbtHardeningLevel=Strict); off, no binding is checked.
        self.channel_bindings: spnego.channel_bindings.GssChannelBindings | None = None
        if tls is not None and cbt_strict:
            self.channel_bindings = spnego.channel_bindings.GssChannelBindings(
                application_data=b"tls-server-end-point:" + tls.end_point_hash()
            )
        # Windows' service defaults: Basic off, AllowUnencrypted off; PERMISSIVE opts into both.
        self.allow_unencrypted = allow_unencrypted
        self.max_shells_per_user = max_shells_per_user
        self.faults = faults or ListenerFaults()
        self.stats = ListenerStats()
        self._requested_port = port
        self._port: int | None = None
        self._store = ShellStore(node, answer, start_cost_s=command_start_s, cost=cost)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._service: ShellService

    @property
    def port(self) -> int:
        """The bound port; still known after stop(), so tests can aim at a downed endpoint."""
        if self._port is None:
            raise RuntimeError(f"listener for {self.node} was never started")
        return self._port

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/wsman"

    def start(self) -> WSManListener:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._store.reopen()
        server = _Server((self.host, self._requested_port), _Handler)
        server.listener = self
        if self.tls is not None:
            context = self.tls.server_context()
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._port = int(server.server_address[1])
        if self.psrp_enabled:
            self.psrp = PsrpService(
                self.node,
                self._answer,
                self._stopping,
                self.url,
                cost=self.cost or OFF,
                configurations=self.configurations,
            )
        self._service = ShellService(
            self._store,
            self.url,
            self._stopping,
            max_shells_per_user=self.max_shells_per_user,
            psrp=self.psrp,
        )
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wsman-{self.node}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection, join the threads. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads (block_on_close)
        if self._thread is not None:
            self._thread.join()
        self._store.close()
        if self.psrp is not None:
            self.psrp.close()

    def _reap_idle_shells(self, shell_id: str) -> None:
        """IdleTimeout: reclaim shells no request touched for that long; this one is touched."""
        self._reaper.touch(shell_id)
        self._reaper.sweep(self._store.ids(), self._store.delete)

    def _track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns = {c for c in self._conns if c.fileno() != -1}
            self._conns.add(conn)

    def __enter__(self) -> WSManListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
