"""The run signature: an OpenSSH SSHSIG over manifest.json (`ssh-keygen -Y verify` checks it)."""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME
from harness.evidence.records import atomic_write
from harness.redact import register_secret

# The framing follows OpenSSH's PROTOCOL.sshsig; the primitives come from `cryptography`.
MAGIC = b"SSHSIG"
SIG_VERSION = 1
NAMESPACE = "qmaudit"
HASH_ALG = "sha512"
MAX_KEY_BYTES = 64 << 10  # an OpenSSH RSA-16384 private key is ~13 KB
ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
ARMOR_END = "-----END SSH SIGNATURE-----"
PASSPHRASE_ENV = "QM_SIGN_PASSPHRASE"
_ECDSA_HASH: dict[str, hashes.HashAlgorithm] = {
    "nistp256": hashes.SHA256(),
    "nistp384": hashes.SHA384(),
    "nistp521": hashes.SHA512(),
}
SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class SignatureError(Exception):
    """A signature that does not check out (reason in the message); not a bad-input error."""


@dataclass(frozen=True)
class Signer:
    """A loaded private key and the OpenSSH form of its public half."""

    key: SigningKey
    source: str

    @property
    def public_blob(self) -> bytes:
        """The public key in SSH wire format."""
        return public_blob(self.key.public_key())

    @property
    def fingerprint(self) -> str:
        """SHA256:... as `ssh-keygen -l` prints it."""
        return fingerprint(self.public_blob)

    def public_line(self) -> str:
        """The key as an OpenSSH public key line (for an allowed-signers file)."""
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode("ascii")
        )


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _string(raw)


class _Reader:
    """SSH wire-format reader; any overrun is a SignatureError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SignatureError("the signature is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        """A positive SSH mpint, minimally encoded (as OpenSSH's sshbuf_get_bignum2 demands)."""
        raw = self.string()
        if len(raw) > 2048 // 8 + 1:
            raise SignatureError("a signature number is too large")
        if raw[:1] and raw[0] & 0x80:
            raise SignatureError("a signature number is negative")
        if raw[:1] == b"\x00" and (len(raw) == 1 or not raw[1] & 0x80):
            raise SignatureError("a signature number is not minimally encoded")
        return int.from_bytes(raw, "big")

    def end(self, what: str) -> None:
        """SignatureError if bytes follow the last field (OpenSSH refuses trailing data)."""
        if self.pos != len(self.data):
            raise SignatureError(f"{what} has {len(self.data) - self.pos} bytes of trailing data")


def public_blob(key: PublicKey) -> bytes:
    """The SSH wire form of a public key (the base64 field of its OpenSSH line, decoded)."""
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def passphrase_for(source: str) -> bytes | None:
    """The key's passphrase: $QM_SIGN_PASSPHRASE, else asked on the terminal, else None."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None and sys.stdin.isatty():
        value = getpass.getpass(f"passphrase for {source}: ")
    if value is None:
        return None
    register_secret(value)  # a credential of the run: masked wherever it could be written
    return value.encode("utf-8")


def load_with_passphrase(load: Callable[..., Any], data: bytes, source: str) -> Any:
    """Load a private key with `load`, asking for its passphrase when it is encrypted.

    A missing or wrong passphrase is an InputError naming the key file; the loader's other
    errors (unreadable or unsupported key) reach the caller, which names the key kind.
    """
    try:
        return load(data, password=None)
    except TypeError:
        # Encrypted key: cryptography asks for the passphrase this way.
        secret = passphrase_for(source)
        if secret is None:
            raise InputError(
                source, "", f"the key is encrypted: set {PASSPHRASE_ENV} or run from a terminal"
            ) from None
        try:
            return load(data, password=secret)
        except ValueError:
            raise InputError(source, "", "wrong passphrase for the signing key") from None


def load_signer(path: str | Path) -> Signer:
    """Load an OpenSSH private key (ed25519, ECDSA or RSA); InputError naming the file otherwise."""
    source = str(path)
    data = read_bounded(path, MAX_KEY_BYTES, what="signing key")  # /dev/zero: refused at once
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" not in data:
        raise InputError(
            source,
            "",
            "not an OpenSSH private key (expected '-----BEGIN OPENSSH PRIVATE KEY-----')",
        )
    try:
        key = load_with_passphrase(serialization.load_ssh_private_key, data, source)
    except UnsupportedAlgorithm as exc:
        raise InputError(source, "", f"unsupported key type: {exc}") from None
    except ValueError as exc:
        raise InputError(source, "", f"unreadable OpenSSH private key: {exc}") from None
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        kind = type(key).__name__.removesuffix("PrivateKey").removeprefix("_")
        raise InputError(
            source, "", f"unsupported key type {kind}: use an ed25519, ECDSA or RSA key"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey) and _curve(key.public_key()) not in _ECDSA_HASH:
        raise InputError(source, "", f"unsupported ECDSA curve {key.curve.name}")
    return Signer(key=key, source=source)


def _curve(key: ec.EllipticCurvePublicKey) -> str:
    return {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}.get(
        key.curve.name, key.curve.name
    )


def _signed_data(message: bytes, namespace: str) -> bytes:
    digest = hashlib.sha512(message).digest()
    return (
        MAGIC
        + _string(namespace.encode())
        + _string(b"")
        + _string(HASH_ALG.encode())
        + _string(digest)
    )


def _raw_signature(key: SigningKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _string(b"ssh-ed25519") + _string(key.sign(data))
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA512())
        return _string(b"rsa-sha2-512") + _string(sig)
    curve = _curve(key.public_key())
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_ECDSA_HASH[curve])))
    return _string(f"ecdsa-sha2-{curve}".encode()) + _string(_mpint(r) + _mpint(s))


def sign_bytes(signer: Signer, message: bytes, namespace: str = NAMESPACE) -> str:
    """An armored SSHSIG signature of message (as `ssh-keygen -Y sign -n namespace` makes)."""
    blob = (
        MAGIC
        + struct.pack(">I", SIG_VERSION)
        + _string(signer.public_blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(HASH_ALG.encode())
        + _string(_raw_signature(signer.key, _signed_data(message, namespace)))
    )
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + "\n"


def sign_manifest(run_dir: Path, signer: Signer) -> Path:
    """Write <run_dir>/manifest.json.sig atomically (the manifest must be final)."""
    manifest = Path(run_dir) / MANIFEST_NAME
    signature = sign_bytes(signer, manifest.read_bytes())
    path = Path(run_dir) / SIGNATURE_NAME
    atomic_write(path, signature.encode("ascii"))
    return path


@dataclass(frozen=True)
class CheckedSignature:
    """A signature whose cryptography checked out: the key that made it."""

    public_blob: bytes
    namespace: str

    @property
    def fingerprint(self) -> str:
        """SHA256:... of the signing key."""
        return fingerprint(self.public_blob)


def _unarmor(text: str) -> bytes:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != ARMOR_BEGIN or lines[-1] != ARMOR_END:
        raise SignatureError("not an SSH signature (armor lines missing)")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise SignatureError("the signature's base64 is corrupt") from None


def _load_public(blob: bytes) -> PublicKey:
    kind = _Reader(blob).string().decode("ascii", "replace")
    try:
        key = serialization.load_ssh_public_key(
            f"{kind} {base64.b64encode(blob).decode()}".encode()
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(
            f"the signature holds an unusable public key ({kind}): {exc}"
        ) from None
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise SignatureError(f"unsupported key type in the signature: {kind}")
    if isinstance(key, ec.EllipticCurvePublicKey) and _curve(key) not in _ECDSA_HASH:
        raise SignatureError(f"unsupported ECDSA curve in the signature: {key.curve.name}")
    return key


def check_signature(message: bytes, armored: str, namespace: str = NAMESPACE) -> CheckedSignature:
    """Check an armored SSHSIG over message; SignatureError saying why it does not hold."""
    reader = _Reader(_unarmor(armored))
    if reader.take(6) != MAGIC or reader.uint32() != SIG_VERSION:
        raise SignatureError("not an SSHSIG version 1 signature")
    blob = reader.string()
    sig_namespace = reader.string().decode("utf-8", "replace")
    reader.string()  # reserved
    hash_alg = reader.string().decode("ascii", "replace")
    sig = _Reader(reader.string())
    reader.end("the signature")
    if sig_namespace != namespace:
        raise SignatureError(f"signature namespace is {sig_namespace!r}, expected {namespace!r}")
    if hash_alg not in ("sha256", "sha512"):
        raise SignatureError(f"unsupported signature hash {hash_alg!r}")
    digest = (hashlib.sha512 if hash_alg == "sha512" else hashlib.sha256)(message).digest()
    data = (
        MAGIC
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_alg.encode())
        + _string(digest)
    )
    key = _load_public(blob)
    sig_type = sig.string().decode("ascii", "replace")
    raw = sig.string()
    sig.end("the signature value")
    key_type = _Reader(blob).string().decode("ascii", "replace")
    if sig_type != key_type and not (key_type == "ssh-rsa" and sig_type.startswith("rsa-sha2-")):
        raise SignatureError(f"signature type {sig_type!r} does not match the key ({key_type})")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(raw) != 64:
                raise SignatureError("an Ed25519 signature is 64 bytes")
            key.verify(raw, data)
        elif isinstance(key, rsa.RSAPublicKey):
            algs = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256()}
            if sig_type not in algs:
                raise SignatureError(f"unsupported RSA signature type {sig_type!r}")
            key.verify(raw, data, padding.PKCS1v15(), algs[sig_type])
        else:
            inner = _Reader(raw)
            r, s_value = inner.mpint(), inner.mpint()
            inner.end("the ECDSA signature")
            if not (r and s_value):
                raise SignatureError("an ECDSA signature number is zero")
            der = encode_dss_signature(r, s_value)
            key.verify(der, data, ec.ECDSA(_ECDSA_HASH[_curve(key)]))
    except (InvalidSignature, ValueError, OverflowError):
        raise SignatureError(
            f"the signature does not match manifest.json (key {fingerprint(blob)}): "
            "the manifest was changed after signing or the signature belongs to other content"
        ) from None
    return CheckedSignature(public_blob=blob, namespace=sig_namespace)
