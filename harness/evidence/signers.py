"""The allowed-signers file (OpenSSH format): which keys may sign runs, under which names."""

from __future__ import annotations

import base64
import binascii
import shlex
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from harness.boundedfile import read_bounded
from harness.errors import InputError

# Key types ssh-keygen(1) accepts in an allowed-signers file that qmaudit can check.
KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed-signers file."""

    principals: tuple[str, ...]
    namespaces: tuple[str, ...] | None
    cert_authority: bool
    public_blob: bytes
    line: int


def _options(text: str, source: str, line: int) -> tuple[tuple[str, ...] | None, bool]:
    namespaces: tuple[str, ...] | None = None
    cert_authority = False
    for option in text.split(","):
        name, _, value = option.partition("=")
        name = name.strip().lower()
        if name == "namespaces":
            namespaces = tuple(v.strip() for v in value.strip('"').split(",") if v.strip())
        elif name == "cert-authority":
            cert_authority = True
        elif name in ("valid-after", "valid-before"):
            # qmaudit does not evaluate validity windows; refusing the line is safer than
            # silently ignoring a restriction the file's owner wrote down.
            raise InputError(source, f"line {line}", f"option {name} is not supported by qmaudit")
        else:
            raise InputError(source, f"line {line}", f"unknown option {name!r}")
    return namespaces, cert_authority


def parse_allowed_signers(text: str, source: str) -> list[AllowedSigner]:
    """Parse an allowed-signers file; InputError naming the file, line and problem."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            lexer = shlex.shlex(stripped, posix=True)
            lexer.whitespace_split = True
            lexer.commenters = ""
            tokens = list(lexer)
        except ValueError as exc:
            raise InputError(source, f"line {number}", f"malformed line: {exc}") from None
        if len(tokens) < 3:
            raise InputError(
                source, f"line {number}", "expected: principals [options] key-type base64-key"
            )
        principals = tuple(p for p in tokens[0].split(",") if p)
        rest = tokens[1:]
        namespaces: tuple[str, ...] | None = None
        cert_authority = False
        if rest[0] not in KEY_TYPES and not rest[0].startswith(("ssh-", "ecdsa-", "sk-")):
            namespaces, cert_authority = _options(rest[0], source, number)
            rest = rest[1:]
        if len(rest) < 2:
            raise InputError(source, f"line {number}", "public key missing")
        key_type, key_b64 = rest[0], rest[1]
        if key_type not in KEY_TYPES:
            raise InputError(source, f"line {number}", f"unknown key type {key_type!r}")
        try:
            blob = base64.b64decode(key_b64, validate=True)
            serialization.load_ssh_public_key(f"{key_type} {key_b64}".encode())
        except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
            raise InputError(
                source, f"line {number}", f"invalid {key_type} public key: {exc}"
            ) from None
        if not principals:
            raise InputError(source, f"line {number}", "no principal named")
        entries.append(AllowedSigner(principals, namespaces, cert_authority, blob, number))
    if not entries:
        raise InputError(source, "", "no allowed signer in the file")
    return entries


def read_allowed_signers(path: str | Path) -> list[AllowedSigner]:
    """Read and parse an allowed-signers file (InputError when missing, unreadable, malformed)."""
    source = str(path)
    try:
        data = read_bounded(path, 4 << 20, what="allowed-signers file", regular_only=False)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(source, "", f"cannot read the allowed-signers file: {reason}") from None
    return parse_allowed_signers(text, source)


def principals_for(signers: list[AllowedSigner], public_blob: bytes, namespace: str) -> list[str]:
    """The principals the file allows to sign with this key in this namespace (may be empty)."""
    names: list[str] = []
    for entry in signers:
        if entry.cert_authority or entry.public_blob != public_blob:
            continue
        if entry.namespaces is not None and namespace not in entry.namespaces:
            continue
        names.extend(entry.principals)
    return names
