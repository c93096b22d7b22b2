"""WinRMSession: one reusable PowerShell shell per node over pywinrm, retries, error mapping."""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import winrm.transport
from winrm.exceptions import WinRMOperationTimeoutError
from winrm.protocol import Protocol

from harness.errors import HarnessError, TransportTimeoutError
from harness.transport.clixml import decode_clixml
from harness.transport.delivery import ScriptDelivery
from harness.transport.endpoint import Endpoint
from harness.transport.faults import Fault, classify
from harness.transport.kerberos import KerberosSource, TicketStore, check_service, use_cache
from harness.transport.tls import trust_store, verify_server

ProtocolFactory = Callable[[Endpoint], Any]
UTF8_CODEPAGE = 65001  # so non-ASCII names survive PowerShell's console output

_insecure_lock = threading.Lock()
_insecure_warned = False


@dataclass(frozen=True)
class ScriptResult:
    """What a PowerShell script left behind: exit code, stdout, stderr decoded from CLIXML."""

    exit_code: int
    stdout: str
    stderr: str


def _warn_insecure(endpoint: Endpoint) -> None:
    global _insecure_warned
    with _insecure_lock:
        if _insecure_warned:
            return
        _insecure_warned = True
    print(
        f"qmaudit: WARNING: TLS certificate verification is OFF for {endpoint.url} "
        "(verify_tls: false); the server's identity is not checked",
        file=sys.stderr,
    )


def _check_extras(endpoint: Endpoint) -> None:
    """Kerberos and CredSSP need optional packages; say which extra installs them."""
    if endpoint.transport == "credssp" and not winrm.transport.HAVE_CREDSSP:
        raise HarnessError(
            f"{endpoint.label}: the credssp transport needs requests-credssp: "
            "pip install 'qmaudit[credssp]' (pywinrm[credssp])"
        )


def prepare_endpoint(endpoint: Endpoint) -> None:
    """What must hold before the first byte goes to a node: TLS trust, a Kerberos ticket.

    Raises TlsTrustError or KerberosError (one line, exit code 2). Done at every connect: a
    handshake is cheap, and a listener whose certificate changed is checked again.
    """
    _check_extras(endpoint)
    verify_server(endpoint)
    if endpoint.transport == "kerberos":
        source = KerberosSource(
            principal=endpoint.username,
            password=endpoint.password,
            keytab=endpoint.kerberos_keytab,
            ccache=endpoint.kerberos_ccache,
            forwardable=endpoint.kerberos_delegation,
        )
        cache = TicketStore.obtain(source, endpoint.label)
        use_cache(cache)
        check_service(source, cache, endpoint.kerberos_host, endpoint.label)


def prepare_endpoints(endpoints: list[Endpoint]) -> None:
    """prepare_endpoint for every node, in parallel, before a run touches any of them."""
    from concurrent.futures import ThreadPoolExecutor

    if not endpoints:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(endpoints))) as pool:
        for future in [pool.submit(prepare_endpoint, e) for e in endpoints]:
            future.result()


def make_protocol(endpoint: Endpoint) -> Protocol:
    """A pywinrm Protocol configured from the endpoint (TLS and Kerberos checked first)."""
    prepare_endpoint(endpoint)
    if endpoint.scheme == "https" and not endpoint.verify_tls:
        _warn_insecure(endpoint)
    # pywinrm wants whole seconds with read > operation; the real HTTP timeouts are set below.
    operation = max(1, int(endpoint.operation_timeout_s))
    protocol = Protocol(
        endpoint.url,
        transport=endpoint.transport,  # type: ignore[arg-type]
        username=endpoint.username,
        password=endpoint.password,
        server_cert_validation="validate" if endpoint.verify_tls else "ignore",
        # The inventory's CA bundle, else the system's (requests alone would use certifi's).
        ca_trust_path=trust_store(endpoint),  # type: ignore[arg-type]
        cert_pem=endpoint.cert_pem,
        cert_key_pem=endpoint.cert_key_pem,
        read_timeout_sec=max(operation + 1, math.ceil(endpoint.read_timeout_s)),
        operation_timeout_sec=operation,
        message_encryption="auto",
        proxy=None,
        kerberos_hostname_override=endpoint.kerberos_hostname,
        kerberos_delegation=endpoint.kerberos_delegation,
        send_cbt=endpoint.send_cbt,
    )
    # requests accepts (connect, read); pywinrm passes this value straight to session.send.
    protocol.transport.read_timeout_sec = (  # type: ignore[assignment]
        endpoint.connect_timeout_s,
        endpoint.read_timeout_s,
    )
    return protocol


class WinRMSession:
    """Runs PowerShell scripts on one node, reusing one shell and one HTTP connection."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        protocol_factory: ProtocolFactory = make_protocol,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        command_timeout_s: float = 600.0,
    ) -> None:
        self.endpoint = endpoint
        self._factory = protocol_factory
        self._sleep = sleep
        self._clock = clock
        self._command_timeout_s = command_timeout_s
        self._lock = threading.Lock()
        self._protocol: Any = None
        self._shell_id: str | None = None
        self.shells_opened = 0  # observable for tests: reuse means this stays at 1

    def __enter__(self) -> WinRMSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run_script(self, text: str, *, idempotent: bool = False) -> ScriptResult:
        """Run a PowerShell script; retried on transient faults only when that is safe.

        `idempotent` (read probes) allows a retry even after the server accepted the Command;
        otherwise a failure after acceptance is reported, never re-sent (it could double a move).
        """
        # The script travels on stdin: a command line over 8,191 characters is refused by cmd.exe.
        delivery = ScriptDelivery.of(text)
        with self._lock:
            return self._run(delivery, idempotent)

    def _run(self, delivery: ScriptDelivery, idempotent: bool) -> ScriptResult:
        attempt = 0
        shell_reopened = False
        while True:
            phase = "connect"
            try:
                protocol = self._connect()
                shell_id = self._ensure_shell(protocol)
                phase = "command"
                # stdin as a pipe (not a console) so that the bootstrap's $input reads it.
                command_id = protocol.run_command(
                    shell_id,
                    delivery.command,
                    list(delivery.arguments),
                    console_mode_stdin=False,
                )
                phase = "input"
                # End="true" closes stdin: only then does the bootstrap run the script.
                protocol.send_command_input(shell_id, command_id, delivery.stdin, end=True)
                phase = "output"
                stdout, stderr, code = self._receive(protocol, shell_id, command_id)
                self._cleanup(protocol, shell_id, command_id)
                return ScriptResult(code, stdout.decode("utf-8", "replace"), decode_clixml(stderr))
            except HarnessError:
                self._shell_id = None
                self._drop_connection()
                raise
            except Exception as exc:
                fault = classify(exc)
            if not fault.answered:
                # The connection's state (and NTLM's sealing context) is unknown: start afresh.
                self._drop_connection()
            if fault.shell_gone:
                if fault.shell_alive:
                    self._delete_shell()
                self._shell_id = None
                if phase in ("command", "input") and not shell_reopened:
                    # The script runs only once its stdin is complete: nothing ran, send again.
                    shell_reopened = True
                    continue
            # The script starts when the server accepts the Send that ends stdin, not before.
            may_have_run = phase == "output" or (
                phase == "input" and not fault.answered and not fault.connect_failed
            )
            if phase in ("input", "output") or (phase == "command" and not fault.answered):
                # A bootstrap may still wait for stdin or run in that shell: use a new one.
                self._shell_id = None
            if not fault.transient:
                raise fault.error(self.endpoint.label) from None
            if may_have_run and not idempotent:
                note = "; not retried: the command may already have run on the target"
                raise fault.error(self.endpoint.label, note) from None
            if attempt >= self.endpoint.retries:
                note = f" (after {attempt + 1} attempts)"
                raise fault.error(self.endpoint.label, note) from None
            self._sleep(self.endpoint.backoff(attempt))
            attempt += 1

    def _connect(self) -> Any:
        if self._protocol is None:
            self._protocol = self._factory(self.endpoint)
        return self._protocol

    def _ensure_shell(self, protocol: Any) -> str:
        if self._shell_id is None:
            self._shell_id = protocol.open_shell(noprofile=True, codepage=UTF8_CODEPAGE)
            self.shells_opened += 1
        assert self._shell_id is not None
        return self._shell_id

    def _receive(self, protocol: Any, shell_id: str, command_id: str) -> tuple[bytes, bytes, int]:
        """Collect output until Done; the server's operation timeouts are polls, bounded here."""
        deadline = self._clock() + self._command_timeout_s
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        while True:
            try:
                out, err, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                out, err, code, done = b"", b"", -1, False
            stdout.append(out)
            stderr.append(err)
            if done:
                return b"".join(stdout), b"".join(stderr), int(code)
            if self._clock() > deadline:
                raise TransportTimeoutError(
                    self.endpoint.label,
                    f"command still running after {self._command_timeout_s:g} s",
                )

    def _cleanup(self, protocol: Any, shell_id: str, command_id: str) -> None:
        # The output is complete; a failed Signal only means the next call reconnects.
        try:
            protocol.cleanup_command(shell_id, command_id)
        except Exception as exc:
            fault: Fault = classify(exc)
            if fault.shell_gone:
                self._shell_id = None
            elif not fault.answered:
                self._drop_connection()

    def _delete_shell(self) -> None:
        """Delete our shell (best effort) so that it stops counting against the user's quota."""
        shell_id, self._shell_id = self._shell_id, None
        if shell_id is not None and self._protocol is not None:
            # If the Delete fails too, the server's idle timeout removes the shell.
            with contextlib.suppress(Exception):
                self._protocol.close_shell(shell_id, close_session=False)

    def _drop_connection(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            # Closing a broken connection cannot fail in a way that matters.
            with contextlib.suppress(Exception):
                protocol.transport.close_session()

    def close(self) -> None:
        """Delete the shell (best effort) and close the HTTP connection."""
        with self._lock:
            shell_id, self._shell_id = self._shell_id, None
            if shell_id is not None and self._protocol is not None:
                # The server drops idle shells itself; closing must not raise.
                with contextlib.suppress(Exception):
                    self._protocol.close_shell(shell_id, close_session=True)
            self._drop_connection()
