"""The X.509 run signature: a detached CMS (PKCS#7) over manifest.json, `openssl cms -verify`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.evidence.manifest import CMS_SIGNATURE_NAME, MANIFEST_NAME
from harness.evidence.records import atomic_write
from harness.evidence.signing import load_with_passphrase

OPENSSL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CmsSigner:
    """A private key and the certificate (from the organisation's CA) that names its holder."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    source: str

    @property
    def subject(self) -> str:
        """The certificate's subject, RFC 4514."""
        return self.certificate.subject.rfc4514_string()


def is_cms_bundle(data: bytes) -> bool:
    """True for a PEM file holding a certificate (and so meant for CMS, not OpenSSH)."""
    return b"-----BEGIN CERTIFICATE-----" in data


def load_cms_signer(data: bytes, source: str) -> CmsSigner:
    """A PEM bundle: the private key, its certificate, then any intermediates."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(source, "", f"unreadable certificate in the PEM bundle: {exc}") from None
    blocks = [b for b in data.split(b"-----END ") if b"PRIVATE KEY-----" in b]
    if not blocks:
        raise InputError(source, "", "the PEM bundle holds a certificate but no private key")
    try:
        key = load_with_passphrase(serialization.load_pem_private_key, data, source)
    except ValueError as exc:
        raise InputError(source, "", f"unreadable private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError(source, "", "unsupported key type for CMS: use an RSA or ECDSA key")
    leaf = next((c for c in certs if c.public_key() == key.public_key()), None)
    if leaf is None:
        raise InputError(source, "", "no certificate in the bundle matches the private key")
    chain = tuple(c for c in certs if c is not leaf)
    return CmsSigner(key=key, certificate=leaf, chain=chain, source=source)


def sign_manifest_cms(run_dir: Path, signer: CmsSigner) -> Path:
    """Write <run_dir>/manifest.json.p7s: detached, DER, signer certificate included."""
    data = (Path(run_dir) / MANIFEST_NAME).read_bytes()
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(signer.certificate, signer.key, hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    der = builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )
    path = Path(run_dir) / CMS_SIGNATURE_NAME
    atomic_write(path, der)
    return path


def read_ca_file(path: Path) -> list[x509.Certificate]:
    """The trusted CA certificates (PEM); InputError when missing or malformed."""
    source = str(path)
    data = read_bounded(path, 4 << 20, what="CA file", regular_only=False)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(source, "", f"not a PEM certificate file: {exc}") from None
    return certs


MAX_CMS_BYTES = 1 << 20  # a detached signature with a certificate chain: a few KB


def der_problem(data: bytes) -> str | None:
    """Why `data` is not exactly one DER SEQUENCE (trailing bytes included), or None."""
    if len(data) < 2 or data[0] != 0x30:
        return "not a DER-encoded CMS structure"
    first = data[1]
    if first < 0x80:
        length, head = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return "malformed DER length"
        length = int.from_bytes(data[2 : 2 + count], "big")
        head = 2 + count
        if length < 0x80 or data[2] == 0:
            return "non-minimal DER length"
    if head + length != len(data):
        extra = len(data) - head - length
        return f"{extra} bytes of trailing data" if extra > 0 else "truncated"
    return None


def check_cms(run_dir: Path, ca_file: Path) -> tuple[bool, str]:
    """Check manifest.json.p7s with `openssl cms -verify` against the CA file; (ok, message)."""
    read_ca_file(ca_file)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise InputError("--ca", str(ca_file), "openssl is not on PATH (it checks CMS signatures)")
    sig = Path(run_dir) / CMS_SIGNATURE_NAME
    if not sig.is_file() and not sig.is_symlink():
        return False, f"not signed (no {CMS_SIGNATURE_NAME})"
    if sig.is_symlink():
        return False, f"BAD: {CMS_SIGNATURE_NAME} is a symlink"
    try:
        der = read_bounded(sig, MAX_CMS_BYTES, what="CMS signature")
    except InputError as exc:
        return False, f"BAD: {exc.reason}"
    problem = der_problem(der)
    if problem is not None:
        return False, f"BAD: {CMS_SIGNATURE_NAME}: {problem}"
    with tempfile.TemporaryDirectory() as tmp:
        signer_pem = Path(tmp) / "signer.pem"
        args = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig)]
        args += ["-content", str(Path(run_dir) / MANIFEST_NAME), "-CAfile", str(ca_file)]
        args += ["-purpose", "any", "-signer", str(signer_pem), "-out", str(Path(tmp) / "out")]
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"BAD: openssl cms -verify could not run: {exc}"
        if done.returncode != 0:
            detail = " | ".join(done.stderr.strip().splitlines()[-2:]) or f"exit {done.returncode}"
            return False, f"BAD: openssl cms -verify refused the signature: {detail}"
        subject = x509.load_pem_x509_certificate(signer_pem.read_bytes()).subject
    return True, f"GOOD: CMS signature by {subject.rfc4514_string()} (chains to {ca_file})"
