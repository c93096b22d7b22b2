"""PsrpSession: one PowerShell runspace pool per node (PSRP, pypsrp); each probe one pipeline.

On Windows every WinRS command starts powershell.exe and imports its modules again; a runspace
pool pays that once per node: the pool opens, a set-up pipeline (harness/probes/lib/runspace.ps1)
imports FailoverClusters and Hyper-V, and every probe after that is one pipeline in the same
runspace. `RemoteSession` picks the transport per node: PSRP, or WinRS for an endpoint that has
no PowerShell remoting plugin (its Create answers "resource not found").

A runspace that breaks (connection lost, pool Broken, a fault) is opened again once; if that
fails too the probe fails with a TransportError, so the evidence is BROKEN. A probe that may
already have run (the pipeline was accepted) is never sent twice unless it only reads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import AuthenticationError, HarnessError, TransportError
from harness.transport.endpoint import Endpoint
from harness.transport.session import ScriptResult, WinRMSession, prepare_endpoint
from harness.transport.tls import trust_store

SETUP_FILE = Path(__file__).resolve().parent.parent / "probes" / "lib" / "runspace.ps1"
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
RESOURCE_NOT_FOUND = 2150858752  # 0x80338000: no such resource URI (no PSRP plugin / config)
OPERATION_TIMEOUT = 2150858793
_SEALING = frozenset({"ntlm", "kerberos", "credssp"})
_AUTH = {
    "ntlm": "ntlm",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "basic": "basic",
    "certificate": "certificate",
}


@cache
def runspace_setup_text() -> str:
    """The set-up pipeline every runspace runs once (harness/probes/lib/runspace.ps1)."""
    return SETUP_FILE.read_text(encoding="utf-8")


class PsrpUnavailableError(TransportError):
    """The endpoint has no PowerShell remoting for the default configuration: use WinRS."""


def make_wsman(endpoint: Endpoint) -> Any:
    """A pypsrp WSMan connection configured from the endpoint (no traffic yet)."""
    from pypsrp.wsman import WSMan

    # TLS trust and a Kerberos ticket first: one-line errors before anything is sent.
    prepare_endpoint(endpoint)
    verify: Any = endpoint.verify_tls
    if endpoint.verify_tls:
        # The inventory's CA bundle, else the system's (requests alone would use certifi's).
        verify = trust_store(endpoint) or True
    extra: dict[str, Any] = {}
    if endpoint.transport == "certificate":
        extra = {"certificate_pem": endpoint.cert_pem, "certificate_key_pem": endpoint.cert_key_pem}
    if endpoint.transport in ("ntlm", "kerberos"):
        extra = {
            # The node's HTTP/<name> SPN when `host` is an address; delegation for a second hop.
            "negotiate_hostname_override": endpoint.kerberos_hostname,
            # WinRM's service principal is HTTP/<host> (pypsrp would ask for host/<host>).
            "negotiate_service": "HTTP",
            "negotiate_delegate": endpoint.kerberos_delegation,
            # Extended Protection: the channel binding token over HTTPS.
            "negotiate_send_cbt": endpoint.send_cbt,
        }
    return WSMan(
        endpoint.host,
        port=endpoint.port,
        path=endpoint.path.lstrip("/"),
        ssl=endpoint.scheme == "https",
        username=endpoint.username,
        password=endpoint.password,
        auth=_AUTH[endpoint.transport],
        cert_validation=verify,
        connection_timeout=max(1, int(endpoint.connect_timeout_s)),
        read_timeout=max(2, int(endpoint.read_timeout_s)),
        operation_timeout=max(1, int(endpoint.operation_timeout_s)),
        # Like pywinrm's "auto": seal messages over HTTP where the auth can (Negotiate, NTLM,
        # Kerberos, CredSSP); Basic and certificates only travel over HTTPS or in the clear.
        encryption="auto"
        if endpoint.scheme == "https" or endpoint.transport in _SEALING
        else "never",
        **extra,
    )


class PsrpSession:
    """Runs probe scripts as pipelines in one runspace pool on one node."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        configuration_name: str | None = None,
        wsman_factory: Callable[[Endpoint], Any] = make_wsman,
    ) -> None:
        self.endpoint = endpoint
        self.configuration_name = configuration_name or DEFAULT_CONFIGURATION
        self._factory = wsman_factory
        self._lock = threading.Lock()
        self._pool: Any = None
        self.pools_opened = 0  # observable: one per node unless the runspace broke
        self.reconnects = 0

    def __enter__(self) -> PsrpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the runspace pool and run the set-up pipeline (idempotent)."""
        with self._lock:
            self._ensure_pool()

    def run_script(self, text: str, *, idempotent: bool = False) -> ScriptResult:
        """Run a script as one pipeline; the runspace is reopened once if it broke."""
        with self._lock:
            for attempt in (0, 1):
                accepted = False
                try:
                    pool = self._ensure_pool()
                    from pypsrp.powershell import PowerShell

                    ps = PowerShell(pool)
                    ps.add_script(text)
                    ps.begin_invoke()
                    accepted = True
                    output = ps.end_invoke()
                    with contextlib.suppress(Exception):
                        ps.close()  # Signal terminate; the output is complete either way
                    return _result(ps, output)
                except (PsrpUnavailableError, AuthenticationError):
                    raise
                except Exception as exc:
                    self._drop()
                    detail = _describe(exc)
                    if accepted and not idempotent:
                        raise TransportError(
                            self.endpoint.label,
                            f"the PowerShell runspace broke ({detail}); not retried: the "
                            "command may already have run on the target",
                        ) from None
                    if attempt == 0:
                        self.reconnects += 1
                        continue
                    raise TransportError(
                        self.endpoint.label,
                        f"the PowerShell runspace broke and reopening it failed: {detail}",
                    ) from None
        raise AssertionError("unreachable")

    def _ensure_pool(self) -> Any:
        if self._pool is not None:
            from pypsrp.complex_objects import RunspacePoolState

            if self._pool.state == RunspacePoolState.OPENED:
                return self._pool
            self._drop()
        from pypsrp.exceptions import AuthenticationError as PsrpAuthError
        from pypsrp.exceptions import WSManFaultError
        from pypsrp.powershell import PowerShell, RunspacePool

        wsman = self._factory(self.endpoint)
        pool = RunspacePool(wsman, configuration_name=self.configuration_name)
        try:
            pool.open()
        except WSManFaultError as exc:
            _close_quietly(wsman)
            if exc.code == RESOURCE_NOT_FOUND and self.configuration_name == DEFAULT_CONFIGURATION:
                raise PsrpUnavailableError(
                    self.endpoint.label, f"no PowerShell remoting endpoint: {exc.reason}"
                ) from None
            if exc.code == RESOURCE_NOT_FOUND:
                raise HarnessError(
                    f"{self.endpoint.label}: session configuration "
                    f"{self.configuration_name!r} is not registered: {exc.reason}"
                ) from None
            raise
        except PsrpAuthError as exc:
            _close_quietly(wsman)
            raise AuthenticationError(self.endpoint.label, str(exc)) from None
        self._pool = pool
        self.pools_opened += 1
        setup = PowerShell(pool)
        setup.add_script(runspace_setup_text())
        setup.invoke()
        with contextlib.suppress(Exception):
            setup.close()
        return pool

    def _drop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close()
            _close_quietly(pool.connection)

    def close(self) -> None:
        """Close the runspace pool (Delete) and the HTTP connection; never raises."""
        with self._lock:
            self._drop()


def _close_quietly(wsman: Any) -> None:
    with contextlib.suppress(Exception):
        wsman.close()


def _result(ps: Any, output: list[Any]) -> ScriptResult:
    from pypsrp.complex_objects import PSInvocationState

    text = "\n".join(str(item) for item in output if item is not None)
    if ps.state == PSInvocationState.FAILED or (ps.had_errors and not output):
        errors = [str(e) for e in ps.streams.error] or ["the pipeline failed without a message"]
        return ScriptResult(1, text, errors[-1])
    return ScriptResult(0, text, "")


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return f"{type(exc).__name__}: {reason}"[:500]


class RemoteSession:
    """A node's session: PSRP runspace by default, WinRS when the endpoint has no PSRP."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        mode: str = "auto",
        configuration_name: str | None = None,
        psrp_factory: Callable[..., PsrpSession] = PsrpSession,
        winrs_factory: Callable[[Endpoint], WinRMSession] = WinRMSession,
    ) -> None:
        if mode not in ("auto", "psrp", "winrs"):
            raise HarnessError(f"unknown session mode {mode!r} (auto, psrp or winrs)")
        self.endpoint = endpoint
        self.mode = mode
        self._psrp: PsrpSession | None = None
        self._winrs: WinRMSession | None = None
        if mode != "winrs":
            self._psrp = psrp_factory(endpoint, configuration_name=configuration_name)
        else:
            self._winrs = winrs_factory(endpoint)
        self._winrs_factory = winrs_factory
        self.fell_back = False

    @property
    def transport(self) -> str:
        """'psrp' or 'winrs': what this node's probes use now."""
        return "psrp" if self._psrp is not None else "winrs"

    def run_script(self, text: str, *, idempotent: bool = False) -> ScriptResult:
        """Run a script over the node's transport (falling back to WinRS once, if allowed)."""
        if self._psrp is not None:
            try:
                return self._psrp.run_script(text, idempotent=idempotent)
            except PsrpUnavailableError:
                if self.mode == "psrp":
                    raise
                self._psrp.close()
                self._psrp = None
                self.fell_back = True
                self._winrs = self._winrs_factory(self.endpoint)
        assert self._winrs is not None
        return self._winrs.run_script(text, idempotent=idempotent)

    def close(self) -> None:
        """Close whichever session is open."""
        if self._psrp is not None:
            self._psrp.close()
        if self._winrs is not None:
            self._winrs.close()


__all__ = [
    "PsrpSession",
    "PsrpUnavailableError",
    "RemoteSession",
    "make_wsman",
    "runspace_setup_text",
]
