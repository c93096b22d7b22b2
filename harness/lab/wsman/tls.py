"""The lab's TLS: a test certificate authority and the listeners' server certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.lab.wsman.auth import write_private

# Windows requires Server Authentication in a WinRM HTTPS listener's certificate (EKU).
_SERVER_AUTH = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qmaudit lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class ServerCertificate:
    """A listener's certificate and key (PEM) as issued by a LabCA."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write <stem>.crt and <stem>.key (0600) into `directory`; their paths."""
        cert = directory / f"{stem}.crt"
        key = directory / f"{stem}.key"
        write_private(cert, self.cert_pem.decode("ascii"))
        write_private(key, self.key_pem.decode("ascii"))
        return cert, key


class LabCA:
    """A certificate authority made on the spot (never trusted by the system): tests, lab serve."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, name: str = "qmaudit lab test CA", days: int = 30) -> LabCA:
        """A fresh self-signed CA certificate valid from an hour ago for `days` days."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write_bundle(self, path: Path) -> Path:
        """The CA certificate as a PEM bundle (what an inventory's ca_bundle names)."""
        return write_private(path, self.cert_pem.decode("ascii"))

    def issue(
        self,
        names: list[str],
        ips: list[str] | None = None,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> ServerCertificate:
        """A server certificate for DNS `names` and IP addresses `ips` (CN: the first name)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips or []]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0] if names else (ips or ["lab"])[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(hours=1))
            .not_valid_after(not_after or now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_SERVER_AUTH, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return ServerCertificate(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


@dataclass(frozen=True)
class TlsFiles:
    """Where a listener's certificate and key are (PEM files)."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context for this certificate (what Windows' HTTP.sys offers)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def end_point_hash(self) -> bytes:
        """RFC 5929 tls-server-end-point: SHA-256 of the DER certificate (for channel binding)."""
        return certificate_hash(self.cert.read_bytes())


def certificate_hash(cert_pem_or_der: bytes) -> bytes:
    """The tls-server-end-point hash: SHA-256 for SHA-1/SHA-256 signed certificates, else theirs."""
    if cert_pem_or_der.lstrip().startswith(b"-----"):
        cert = x509.load_pem_x509_certificate(cert_pem_or_der)
    else:
        cert = x509.load_der_x509_certificate(cert_pem_or_der)
    der = cert.public_bytes(serialization.Encoding.DER)
    algorithm = cert.signature_hash_algorithm
    name = algorithm.name if algorithm is not None else "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    return hashlib.new(name, der).digest()
