"""Kerberos for WinRM clients: a ticket from a password, keytab or cache, and one-line errors."""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

EXTRA_HINT = (
    "pip install 'qmaudit[kerberos]' (python-gssapi, krb5 and pykerberos; they build against "
    "MIT Kerberos: on Debian/Ubuntu first apt-get install libkrb5-dev gcc python3-dev)"
)
CCACHE_ENV = "KRB5CCNAME"


class KerberosError(HarnessError):
    """Kerberos cannot authenticate to a node as configured: nothing was sent to the node."""

    exit_code = 2


@dataclass(frozen=True)
class KerberosSource:
    """Where the client's ticket comes from: a password, a keytab, or an existing cache."""

    principal: str | None
    password: str | None = None
    keytab: str | None = None
    ccache: str | None = None
    forwardable: bool = False

    @property
    def how(self) -> str:
        if self.password is not None:
            return "a ticket requested with the inventory's password"
        if self.keytab:
            return f"a ticket requested with keytab {self.keytab}"
        return f"the ticket cache {self.ccache or os.environ.get(CCACHE_ENV) or '(default)'}"


def _libraries(label: str) -> tuple[Any, Any]:
    """(gssapi, krb5) or a KerberosError that says how to install them."""
    try:
        import gssapi
        import krb5
    except ImportError as exc:
        raise KerberosError(
            f"{label}: the kerberos transport needs python-gssapi, which is not installed "
            f"({exc.name or exc}): {EXTRA_HINT}"
        ) from None
    import winrm.transport

    if not winrm.transport.HAVE_KERBEROS:
        raise KerberosError(
            f"{label}: the kerberos transport needs pykerberos, which is not installed: "
            f"{EXTRA_HINT}"
        )
    return gssapi, krb5


def explain(message: str, *, principal: str | None, service: str | None, how: str) -> str:
    """One line naming the cause and the fix for a Kerberos library message."""
    text = " ".join(message.split())
    low = text.lower()
    realm = (principal or "").rpartition("@")[2] or "(default realm)"
    if "clock skew" in low:
        return (
            f"clock skew with the KDC of realm {realm} is larger than the realm allows "
            "(5 minutes by default): synchronise this machine's clock with the domain "
            f"(w32tm /resync on Windows, chrony or systemd-timesyncd elsewhere) [{text}]"
        )
    if "server not found in kerberos database" in low or (
        "not found in kerberos database" in low and service and service.split("@")[0] in text
    ):
        host = (service or "HTTP/<host>").split("@")[0]
        return (
            f"no service principal {host} in realm {realm} (missing SPN): register it on the "
            f"node's computer account (setspn -S {host} <COMPUTER>) or set kerberos_hostname "
            f"to the name it is registered under [{text}]"
        )
    if "client" in low and "not found in kerberos database" in low:
        return (
            f"user principal {principal} does not exist in realm {realm}: check the user name "
            f"(user@REALM) [{text}]"
        )
    if ("cannot find kdc" in low or "cannot contact any kdc" in low) or (
        "cannot resolve" in low and "realm" in low
    ):
        return (
            f"no KDC answers for realm {realm} (wrong realm?): write the user as user@REALM with "
            "the domain's realm in capitals, and make sure krb5.conf (KRB5_CONFIG) or DNS "
            f"locates its KDC [{text}]"
        )
    if "expired" in low:
        return (
            f"the Kerberos ticket from {how} has expired: run kinit again, or give "
            f"password_env or kerberos_keytab so that qmaudit requests a fresh one [{text}]"
        )
    if "preauthentication failed" in low or "password incorrect" in low:
        return f"the KDC refused the password of {principal} (wrong password?) [{text}]"
    if "no credentials" in low or ("credentials cache" in low and "not found" in low):
        return (
            f"no Kerberos ticket in {how}: run kinit {principal or 'user@REALM'} first, or give "
            f"password_env or kerberos_keytab [{text}]"
        )
    return f"Kerberos failed with {how}: {text}"


# A ticket this process requested is requested again when less than this is left (long runs).
_RENEW_S = 300


def _seconds_left(gssapi: Any, cache: str) -> int:
    """Seconds of life left in a cache's default credentials (0 when expired or unreadable)."""
    try:
        lifetime = gssapi.Credentials(usage="initiate", store={b"ccache": cache.encode()}).lifetime
    except gssapi.exceptions.GSSError:
        return 0
    return int(lifetime or 0)


class TicketStore:
    """Tickets requested by this process: one private credential cache per principal."""

    _lock = threading.Lock()
    _caches: dict[tuple[str, bool], str] = {}  # noqa: RUF012  (process-wide by design)
    _folder: Path | None = None

    @classmethod
    def obtain(cls, source: KerberosSource, label: str) -> str:
        """The credential cache name to use for `source` (a new ticket if it has a secret)."""
        gssapi, krb5 = _libraries(label)
        if source.password is None and not source.keytab:
            return cls._existing(gssapi, source, label)
        who = source.principal or f"keytab:{source.keytab}"
        key = (who.upper(), source.forwardable)
        with cls._lock:
            if key in cls._caches and _seconds_left(gssapi, cls._caches[key]) > _RENEW_S:
                return cls._caches[key]
            if cls._folder is None:
                cls._folder = Path(tempfile.mkdtemp(prefix="qmaudit-krb5-"))  # mode 0700
            name = f"FILE:{cls._folder / f'ccache-{len(cls._caches)}'}"
            try:
                ctx = krb5.init_context()
                if source.principal:
                    principal = krb5.parse_name_flags(ctx, source.principal.encode())
                else:
                    # No user given: the keytab's first principal (what kinit -k would use).
                    entries = iter(krb5.kt_resolve(ctx, str(source.keytab).encode()))
                    first = next(entries, None)
                    if first is None:
                        raise KerberosError(f"{label}: keytab {source.keytab} holds no key")
                    principal = first.principal
                options = krb5.get_init_creds_opt_alloc(ctx)
                krb5.get_init_creds_opt_set_canonicalize(options, True)
                # A forwardable TGT is what delegation (kerberos_delegation) sends on.
                krb5.get_init_creds_opt_set_forwardable(options, source.forwardable)
                if source.password is not None:
                    creds = krb5.get_init_creds_password(
                        ctx, principal, options, password=source.password.encode()
                    )
                else:
                    keytab = krb5.kt_resolve(ctx, str(source.keytab).encode())
                    creds = krb5.get_init_creds_keytab(ctx, principal, options, keytab=keytab)
                cache = krb5.cc_resolve(ctx, name.encode())
                krb5.cc_initialize(ctx, cache, principal)
                krb5.cc_store_cred(ctx, cache, creds)
            except krb5.Krb5Error as exc:
                text = explain(
                    str(exc),
                    principal=source.principal,
                    service=None,
                    how=source.how,
                )
                raise KerberosError(f"{label}: {text}") from None
            cls._caches[key] = name
            return name

    @classmethod
    def _existing(cls, gssapi: Any, source: KerberosSource, label: str) -> str:
        name = source.ccache or os.environ.get(CCACHE_ENV) or ""
        store = {b"ccache": name.encode()} if name else None
        try:
            creds = gssapi.Credentials(usage="initiate", store=store)
            lifetime = creds.lifetime
        except gssapi.exceptions.GSSError as exc:
            text = explain(str(exc), principal=source.principal, service=None, how=source.how)
            raise KerberosError(f"{label}: {text}") from None
        if lifetime is not None and lifetime <= 0:
            text = explain(
                "ticket expired", principal=source.principal, service=None, how=source.how
            )
            raise KerberosError(f"{label}: {text}")
        return name

    @classmethod
    def forget(cls) -> None:
        """Drop every cache this process made (tests; the folder goes with them)."""
        with cls._lock:
            for name in cls._caches.values():
                Path(name.removeprefix("FILE:")).unlink(missing_ok=True)
            cls._caches.clear()


def use_cache(name: str) -> None:
    """Point this process's Kerberos library (pykerberos uses the default cache) at `name`."""
    if name:
        os.environ[CCACHE_ENV] = name


def check_service(
    source: KerberosSource, ccache: str, host: str, label: str, *, service: str = "HTTP"
) -> None:
    """Ask the KDC for a ticket to SERVICE/host: a missing SPN or skew fails here, not mid-run."""
    gssapi, _ = _libraries(label)
    target = f"{service}@{host}"
    store = {b"ccache": ccache.encode()} if ccache else None
    try:
        creds = gssapi.Credentials(usage="initiate", store=store)
        name = gssapi.Name(target, gssapi.NameType.hostbased_service)
        context = gssapi.SecurityContext(name=name, creds=creds, usage="initiate")
        context.step()
    except gssapi.exceptions.GSSError as exc:
        text = explain(
            str(exc), principal=source.principal, service=f"{service}/{host}", how=source.how
        )
        raise KerberosError(f"{label}: {text}") from None
