"""Lab credentials and the endpoint's HTTP authentication: Basic, and NTLM with encryption."""

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
import spnego.exceptions

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
    CONTINUE = "continue"  # NTLM challenge sent, 401 with a token
    DENIED = "denied"


@dataclass
class AuthResult:
    """What to answer: the state plus an optional WWW-Authenticate token header value."""

    state: AuthState
    www_authenticate: str | None = None


class ConnectionAuth:
    """Authentication state of one TCP connection (NTLM contexts are per connection)."""

    def __init__(self, creds: LabCredentials, methods: tuple[str, ...]) -> None:
        self.creds = creds
        self.methods = methods
        self.context: spnego.ContextProxy | None = None
        self.scheme = ""
        self.authenticated = False

    def challenge_headers(self) -> list[str]:
        """The WWW-Authenticate values of a bare 401, as a Windows listener offers them."""
        values = []
        if "ntlm" in self.methods:
            values.append("Negotiate")
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
        if lowered in ("negotiate", "ntlm") and "ntlm" in self.methods:
            try:
                return self._ntlm(scheme, value.strip())
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
            return AuthResult(AuthState.OK)
        return AuthResult(AuthState.DENIED)

    def _ntlm(self, scheme: str, value: str) -> AuthResult:
        try:
            token = base64.b64decode(value, validate=True)
        except binascii.Error:
            return AuthResult(AuthState.DENIED)
        fresh = (
            self.context is None
            or self.context.complete
            or token.startswith(b"NTLMSSP\x00\x01\x00")  # a new NTLM Negotiate message
            or token[:1] == b"\x60"  # a new SPNEGO NegTokenInit
        )
        if fresh:
            raw = token.startswith(b"NTLMSSP\x00")
            # pywinrm sends raw NTLM under "Negotiate"; pypsrp wraps it in SPNEGO.
            self.context = spnego.server(protocol="ntlm" if raw else "negotiate")
            self.authenticated = False
        assert self.context is not None
        try:
            out = self.context.step(token)
        except spnego.exceptions.SpnegoError:
            self.context = None
            return AuthResult(AuthState.DENIED)
        header = f"{scheme} {base64.b64encode(out).decode()}" if out else None
        if not self.context.complete:
            return AuthResult(AuthState.CONTINUE, header)
        principal = (self.context.client_principal or "").split("\\")[-1]
        if principal.upper() != self.creds.username.upper():
            # The process-wide NTLM store may also hold another lab's account.
            self.context = None
            return AuthResult(AuthState.DENIED)
        self.scheme = "ntlm"
        self.authenticated = True
        return AuthResult(AuthState.OK, header)

    def unseal(self, content_type: str, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted body (MS-WSMV 2.2.9.1.1 framing)."""
        if self.context is None or not self.authenticated:
            raise ValueError("encrypted body on a connection without an NTLM context")
        if PROTOCOL_SPNEGO.lower() not in content_type.lower():
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
            plain = self.context.unwrap_winrm(payload[4 : 4 + sig_len], payload[4 + sig_len :])
            if len(plain) != expected:
                raise ValueError("decrypted length does not match the declared length")
            message += plain
        if not parts:
            raise ValueError("no encrypted part in the body")
        return message

    def seal(self, message: bytes) -> bytes:
        """Encrypt a response body in the same framing (the client checks the length)."""
        assert self.context is not None
        wrapped = self.context.wrap_winrm(message)
        return (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + PROTOCOL_SPNEGO.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n"
            + _OCTET
            + struct.pack("<i", len(wrapped.header))
            + wrapped.header
            + wrapped.data
            + BOUNDARY
            + b"--\r\n"
        )
