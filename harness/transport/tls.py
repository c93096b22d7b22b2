"""TLS trust of a WinRM HTTPS listener, checked before anything is sent: one line per problem."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from pathlib import Path

from harness.errors import TransportError
from harness.transport.endpoint import Endpoint

HANDSHAKE_TIMEOUT_S = 10.0


class TlsTrustError(TransportError):
    """A node's HTTPS certificate cannot be trusted as configured: nothing was sent to it."""

    exit_code = 2


def system_ca_file() -> str | None:
    """The system's CA bundle file (what `ca_bundle` defaults to), if this platform has one."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def trust_store(endpoint: Endpoint) -> str | None:
    """The CA file that validates this endpoint: its ca_bundle, else the system's bundle."""
    return endpoint.ca_bundle or system_ca_file()


def _context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        context.load_default_certs()
    return context


def _peer_certificate(endpoint: Endpoint) -> bytes | None:
    """The server's certificate (DER) fetched without validating it, to explain a failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(
                (endpoint.host, int(endpoint.port or 0)), timeout=endpoint.connect_timeout_s
            ) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def _describe(der: bytes | None) -> tuple[str, str, dt.datetime | None, dt.datetime | None]:
    """(names, issuer, not_before, not_after) of a certificate, for messages."""
    if der is None:
        return "unknown", "unknown", None, None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in alt.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = [a.value for a in cert.subject if a.oid == x509.NameOID.COMMON_NAME]  # type: ignore[misc]
    issuer = cert.issuer.rfc4514_string()
    return (
        ", ".join(str(n) for n in names) or "none",
        issuer,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )


def verify_server(endpoint: Endpoint) -> None:
    """Handshake with validation as the client will; TlsTrustError naming the node and the fix.

    Connection failures are left to the transport (they are reachability, not trust).
    """
    if endpoint.scheme != "https" or not endpoint.verify_tls:
        return
    cafile = trust_store(endpoint)
    store = f"ca_bundle {endpoint.ca_bundle}" if endpoint.ca_bundle else "the system CA store"
    try:
        with (
            socket.create_connection(
                (endpoint.host, int(endpoint.port or 0)), timeout=endpoint.connect_timeout_s
            ) as raw,
            _context(cafile).wrap_socket(raw, server_hostname=endpoint.host),
        ):
            return
    except ssl.SSLCertVerificationError as exc:
        names, issuer, start, end = _describe(_peer_certificate(endpoint))
        code = exc.verify_code
        if code == 10 or (end is not None and end < dt.datetime.now(dt.UTC)):
            when = end.strftime("%Y-%m-%d %H:%M UTC") if end else "an earlier date"
            detail = (
                f"its certificate expired on {when}: renew the WinRM HTTPS listener's "
                "certificate on the node (and check this machine's clock)"
            )
        elif code == 9:
            when = start.strftime("%Y-%m-%d %H:%M UTC") if start else "a later date"
            detail = (
                f"its certificate is not valid before {when}: check this machine's clock and "
                "the node's"
            )
        elif code in (62, 64) or "mismatch" in str(exc).lower():  # host name / IP address
            detail = (
                f"its certificate is for {names}, not {endpoint.host}: set the node's host to "
                "one of those names, or reissue the listener's certificate with this name"
            )
        else:
            detail = (
                f"its certificate (issued by {issuer}) is not trusted by {store}: give the "
                "issuing CA's certificate with ca_bundle in the inventory"
            )
        raise TlsTrustError(
            endpoint.label,
            f"TLS verification failed: {detail} (verify_tls: false turns verification off, unsafe)",
        ) from None
    except ssl.SSLError as exc:
        raise TlsTrustError(
            endpoint.label,
            f"TLS handshake failed ({exc.reason or exc}): is this an HTTPS listener (port "
            "5986)? For HTTP set scheme: http",
        ) from None
    except OSError:
        return
