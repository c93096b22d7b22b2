"""Lab credentials and the endpoint's HTTP authentication: Basic, NTLM, Kerberos, CredSSP."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import struct
import tempfile
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import spnego
import spnego.channel_bindings
import spnego.exceptions

from harness.lab.logon import Logon
from harness.redact import register_secret

PROTOCOL_SPNEGO = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
ENCRYPTED_CONTENT_TYPE = (
    f'multipart/encrypted;protocol="{PROTOCOL_SPNEGO}";boundary="Encrypted Boundary"'
)
_OCTET = b"\tContent-Type: application/octet-stream\r\n"


@dataclass(frozen=True)
class LabCredentials:
    """The one account a served lab accepts; generated per start, never reused."""

    username: str
    password: str
    domain: str = "QMLAB"

    @classmethod
    def generate(cls, domain: str = "QMLAB") -> LabCredentials:
        """Fresh credentials; the user name is unique too, so several labs share one NTLM store."""
        creds = cls(f"lab-admin-{secrets.token_hex(3)}", secrets.token_urlsafe(24), domain)
        register_secret(creds.password)
        return creds

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> LabCredentials:
        """Load credentials written by write()."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        creds = cls(str(doc["username"]), str(doc["password"]), str(doc.get("domain", "")))
        register_secret(creds.password)
        return creds

    @property
    def qualified_username(self) -> str:
        """DOMAIN\\user, the form NTLM clients send."""
        return f"{self.domain}\\{self.username}" if self.domain else self.username

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the credentials as JSON to a new file readable only by this user."""
        doc = {"username": self.username, "password": self.password, "domain": self.domain}
        return write_private(Path(path), json.dumps(doc, indent=2) + "\n")

    def __repr__(self) -> str:
        return f"LabCredentials(username={self.username!r}, domain={self.domain!r})"

    def matches(self, username: str, password: str) -> bool:
        """Basic: accept user, DOMAIN\\user or user@domain with the right password."""
        name = username
        if "\\" in name:
            domain, name = name.split("\\", 1)
            if domain.upper() not in (self.domain.upper(), "", "."):
                return False
        elif "@" in name:
            name = name.split("@", 1)[0]
        same_user = secrets.compare_digest(name.upper().encode(), self.username.upper().encode())
        same_pw = secrets.compare_digest(password.encode(), self.password.encode())
        return same_user and same_pw


def write_private(path: Path, text: str) -> Path:
    """Create (or replace) a file with mode 0600 from the start: never chmod after writing."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


class NtlmUserStore:
    """The NTLM_USER_FILE pyspnego's acceptor reads; one per process (the variable is global)."""

    _lock = threading.Lock()
    _users: dict[int, LabCredentials] = {}  # noqa: RUF012  (class-level registry by design)
    _path: Path | None = None

    @classmethod
    def register(cls, creds: LabCredentials, directory: str | None = None) -> Path:
        """Add an account; the file lives in `directory` (the first caller's state dir)."""
        with cls._lock:
            if cls._path is None:
                base = directory or tempfile.mkdtemp(prefix="qmaudit-ntlm-")
                cls._path = Path(base) / "ntlm-users.txt"
            cls._users[id(creds)] = creds
            cls._rewrite()
            return cls._path

    @classmethod
    def unregister(cls, creds: LabCredentials) -> None:
        """Remove an account; the file disappears with the last one."""
        with cls._lock:
            cls._users.pop(id(creds), None)
            if cls._path is None:
                return
            if cls._users and cls._path.parent.is_dir():
                cls._rewrite()
                return
            cls._path.unlink(missing_ok=True)
            if os.environ.get("NTLM_USER_FILE") == str(cls._path):
                del os.environ["NTLM_USER_FILE"]
            cls._path = None

    @classmethod
    def _rewrite(cls) -> None:
        assert cls._path is not None
        lines = []
        for creds in cls._users.values():
            # A second line without domain serves clients that send a bare user name.
            lines.append(f"{creds.domain}:{creds.username}:{creds.password}")
            lines.append(f":{creds.username}:{creds.password}")
        write_private(cls._path, "\n".join(lines) + "\n")
        os.environ["NTLM_USER_FILE"] = str(cls._path)


class AuthState(Enum):
    """Where a connection stands after an Authorization header was examined."""

    OK = "ok"
    CONTINUE = "continue"  # a challenge sent, 401 with a token
    DENIED = "denied"


@dataclass
class AuthResult:
    """What to answer: the state plus an optional WWW-Authenticate token header value."""

    state: AuthState
    www_authenticate: str | None = None


# GSS-API framing of an initial token: 0x60, length, then the mechanism OID (RFC 2743 3.1).
_SPNEGO_OID = bytes.fromhex("06062b0601050502")
_KRB5_OID = bytes.fromhex("06092a864886f712010202")
_CREDSSP_PROTOCOL = "application/HTTP-CredSSP-session-encrypted"
# A TLS record's trailer with an AES-GCM suite (what the lab's CredSSP TLS negotiates).
_GCM_TRAILER = 16


def _initial_mech(token: bytes) -> str | None:
    """'spnego', 'kerberos' for a GSS initial token of that mechanism, 'ntlm' for raw NTLM."""
    if token.startswith(b"NTLMSSP\x00\x01\x00"):  # an NTLM NEGOTIATE message
        return "ntlm"
    if token[:1] != b"\x60":
        return None
    # Skip the DER length (short or long form) to reach the OID.
    i = 2 + (token[1] & 0x7F if token[1] & 0x80 else 0)
    if token[i:].startswith(_SPNEGO_OID):
        return "spnego"
    if token[i:].startswith(_KRB5_OID):
        return "kerberos"
    return None


class ConnectionAuth:
    """Authentication state of one TCP connection (NTLM, Kerberos, CredSSP contexts are per
    connection), and the logon it produced.

    methods: ntlm and kerberos (both under Negotiate), credssp, basic. Without ntlm the listener
    refuses NTLM like a host where "Restrict NTLM: Incoming NTLM traffic" denies it; Kerberos
    still works. `channel_bindings` (HTTPS) makes the acceptors require the client's channel
    binding token (Extended Protection, CbtHardeningLevel=Strict).
    """

    def __init__(
        self,
        creds: LabCredentials,
        methods: tuple[str, ...],
        channel_bindings: spnego.channel_bindings.GssChannelBindings | None = None,
    ) -> None:
        self.creds = creds
        self.methods = methods
        self.channel_bindings = channel_bindings
        self.context: spnego.ContextProxy | None = None
        self.scheme = ""
        self.authenticated = False
        self.logon: Logon | None = None

    def challenge_headers(self) -> list[str]:
        """The WWW-Authenticate values of a bare 401, as a Windows listener offers them."""
        values = []
        if "ntlm" in self.methods or "kerberos" in self.methods:
            values.append("Negotiate")
        if "kerberos" in self.methods:
            values.append("Kerberos")
        if "credssp" in self.methods:
            values.append("CredSSP")
        if "basic" in self.methods:
            values.append('Basic realm="WSMAN"')
        return values

    def examine(self, header: str | None) -> AuthResult:
        """Process an Authorization header (None: rely on the connection's completed context)."""
        if not header:
            if self.authenticated and self.context is not None:
                return AuthResult(AuthState.OK)
            return AuthResult(AuthState.DENIED)
        scheme, _, value = header.strip().partition(" ")
        lowered = scheme.lower()
        if lowered == "basic" and "basic" in self.methods:
            return self._basic(value.strip())
        gss = lowered in ("negotiate", "ntlm", "kerberos")
        if (gss and ("ntlm" in self.methods or "kerberos" in self.methods)) or (
            lowered == "credssp" and "credssp" in self.methods
        ):
            try:
                return self._token(scheme, value.strip())
            except Exception:
                # A malformed token is a failed logon (401), whatever the parser tripped on.
                self.context = None
                self.authenticated = False
                return AuthResult(AuthState.DENIED)
        return AuthResult(AuthState.DENIED)

    def _basic(self, value: str) -> AuthResult:
        self.context = None
        self.authenticated = False
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult(AuthState.DENIED)
        user, sep, password = decoded.partition(":")
        if sep and self.creds.matches(user, password):
            self.scheme = "basic"
            self.logon = Logon.of(self.creds.qualified_username, "basic")
            return AuthResult(AuthState.OK)
        return AuthResult(AuthState.DENIED)

    def _new_context(self, scheme: str, token: bytes) -> spnego.ContextProxy | None:
        """The acceptor for a first token, or None when this listener refuses its protocol."""
        if scheme.lower() == "credssp":
            return spnego.server(protocol="credssp")
        mech = "ntlm" if token.startswith(b"NTLMSSP\x00") else _initial_mech(token)
        if mech == "ntlm":
            # pywinrm sends raw NTLM under "Negotiate". A host that restricts incoming NTLM
            # still answers the challenge and refuses the logon (see _logon).
            return spnego.server(protocol="ntlm", channel_bindings=self.channel_bindings)
        if mech == "kerberos":
            # pykerberos (pywinrm) sends a raw Kerberos AP-REQ under "Negotiate".
            if "kerberos" not in self.methods:
                return None
            return spnego.server(protocol="kerberos", channel_bindings=self.channel_bindings)
        # SPNEGO (pypsrp, Windows clients): the mechanism is known once the context completes.
        return spnego.server(protocol="negotiate", channel_bindings=self.channel_bindings)

    def _token(self, scheme: str, value: str) -> AuthResult:
        try:
            token = base64.b64decode(value, validate=True)
        except binascii.Error:
            return AuthResult(AuthState.DENIED)
        credssp = scheme.lower() == "credssp"
        fresh = (
            self.context is None
            or self.context.complete
            or (not credssp and _initial_mech(token) is not None)
            or (credssp and self.scheme != "credssp-pending")
        )
        if fresh:
            self.context = self._new_context(scheme, token)
            self.authenticated = False
            self.logon = None
            self.scheme = "credssp-pending" if credssp else ""
            if self.context is None:
                return AuthResult(AuthState.DENIED)
        assert self.context is not None
        try:
            out = self.context.step(token)
        except spnego.exceptions.SpnegoError:
            self.context = None
            return AuthResult(AuthState.DENIED)
        header = f"{scheme} {base64.b64encode(out).decode()}" if out else None
        if not self.context.complete:
            return AuthResult(AuthState.CONTINUE, header)
        logon = self._logon(self.context, credssp)
        if logon is None:
            self.context = None
            return AuthResult(AuthState.DENIED)
        self.scheme = logon.method
        self.logon = logon
        self.authenticated = True
        return AuthResult(AuthState.OK, header)

    def _logon(self, context: spnego.ContextProxy, credssp: bool) -> Logon | None:
        """The logon a completed context stands for, or None if this lab must refuse it."""
        if credssp:
            # The client delegated its user name and password: check them as a logon would.
            cred = context.get_extra_info("client_credential")
            user = getattr(cred, "username", "") or ""
            password = getattr(cred, "password", "") or ""
            if not self.creds.matches(user, password):
                return None
            return Logon.of(self.creds.qualified_username, "credssp")
        protocol = context.negotiated_protocol or ""
        if protocol not in self.methods:
            # SPNEGO that settled on NTLM on a host that refuses NTLM (or Kerberos off).
            return None
        principal = context.client_principal or ""
        name = principal.split("\\")[-1].split("@")[0]
        # The process-wide NTLM store or keytab may also serve another lab's account.
        if name.upper() != self.creds.username.upper():
            return None
        if protocol == "kerberos":
            delegated = bool(context.context_attr & spnego.ContextReq.delegate)
            return Logon.of(principal, "kerberos", delegated=delegated)
        return Logon.of(self.creds.qualified_username, "ntlm")

    def unseal(self, content_type: str, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted body (MS-WSMV 2.2.9.1 framing: SPNEGO or CredSSP)."""
        if self.context is None or not self.authenticated:
            raise ValueError("encrypted body on a connection without an authenticated context")
        credssp = self.scheme == "credssp"
        protocol = _CREDSSP_PROTOCOL if credssp else PROTOCOL_SPNEGO
        if protocol.lower() not in content_type.lower():
            raise ValueError(f"unsupported encrypted protocol: {content_type}")
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        message = b""
        for i in range(0, len(parts) - 1, 2):
            header, payload = parts[i], parts[i + 1]
            expected = int(header.split(b"Length=")[1].split(b"\r\n")[0])
            if payload.endswith(BOUNDARY + b"--\r\n"):
                payload = payload[: -len(BOUNDARY + b"--\r\n")]
            payload = payload.removeprefix(_OCTET)
            sig_len = struct.unpack("<i", payload[:4])[0]
            if credssp:
                # The length is the TLS trailer's; the records follow it.
                plain = self.context.unwrap(payload[4:]).data
            else:
                plain = self.context.unwrap_winrm(payload[4 : 4 + sig_len], payload[4 + sig_len :])
            if len(plain) != expected:
                raise ValueError("decrypted length does not match the declared length")
            message += plain
        if not parts:
            raise ValueError("no encrypted part in the body")
        return message

    @property
    def encrypted_content_type(self) -> str:
        """The Content-Type of a sealed reply on this connection."""
        if self.scheme == "credssp":
            return ENCRYPTED_CONTENT_TYPE.replace(PROTOCOL_SPNEGO, _CREDSSP_PROTOCOL)
        return ENCRYPTED_CONTENT_TYPE

    def seal(self, message: bytes) -> bytes:
        """Encrypt a response body in the same framing (the client checks the length)."""
        assert self.context is not None
        if self.scheme == "credssp":
            protocol = _CREDSSP_PROTOCOL.encode()
            stream = struct.pack("<i", _GCM_TRAILER) + self.context.wrap(message).data
        else:
            protocol = PROTOCOL_SPNEGO.encode()
            wrapped = self.context.wrap_winrm(message)
            stream = struct.pack("<i", len(wrapped.header)) + wrapped.header + wrapped.data
        return (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + protocol + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n"
            + _OCTET
            + stream
            + BOUNDARY
            + b"--\r\n"
        )
