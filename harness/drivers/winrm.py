"""WinRMDriver: runs probe scripts on cluster nodes over WinRM and validates their documents."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from harness.drivers.base import ProbeRecord, TranscriptMixin, sha256_text, utc_now_iso
from harness.errors import HarnessError, ProbeFailedError
from harness.probes.protocol import build_script, probe_kind
from harness.redact import MASK, is_credential_key, redact, register_secret
from harness.schemas import parse_probe_output
from harness.transport.clixml import error_message
from harness.transport.endpoint import Endpoint
from harness.transport.psrp import RemoteSession
from harness.transport.session import ScriptResult


def redact_params(value: Any, key: str = "") -> Any:
    """A copy of probe parameters fit for records: secret-named keys masked, secrets redacted."""
    if key and is_credential_key(key):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): redact_params(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_params(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def register_param_secrets(value: Any, key: str = "") -> None:
    """Register every secret-named string parameter so that no message can echo it."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            register_param_secrets(v, str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            register_param_secrets(v, key)
    elif isinstance(value, str) and key and is_credential_key(key):
        register_secret(value)


def resolve_node(nodes: Sequence[str], node: str | None) -> str:
    """The addressed node: default the first, match names case-insensitively like Windows."""
    if node is None:
        if not nodes:
            raise HarnessError("the driver has no nodes")
        return nodes[0]
    if node in nodes:
        return node
    for name in nodes:
        if name.lower() == node.lower():
            return name
    raise HarnessError(f"no node {node!r} is addressable (known: {', '.join(nodes)})")


def script_for(name: str, params: dict[str, Any], node: str) -> str:
    """build_script, where an unknown probe or bad parameters is a failure of that probe."""
    try:
        return build_script(name, params)
    except ValueError as exc:
        raise ProbeFailedError(name, node, str(exc)) from None


def failure_message(stderr: str, stdout: str, exit_code: int) -> str:
    """What a failed probe said: the error record's message, else whatever it printed."""
    if stderr.strip():
        return error_message(stderr)
    if stdout.strip():
        return f"exit code {exit_code}; stdout: {stdout.strip()[:500]}"
    return f"exit code {exit_code} and no error text"


class RecordingDriver(TranscriptMixin):
    """The transcript bookkeeping both drivers share: one ProbeRecord per call."""

    def _call(
        self,
        name: str,
        params: dict[str, Any] | None,
        node: str,
        run: Callable[[dict[str, Any], list[str]], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run `run(params, raw)` (it appends the raw output it got to `raw`) and record it."""
        given = dict(params or {})
        register_param_secrets(given)
        started, t0 = utc_now_iso(), time.perf_counter()
        raw: list[str] = []
        doc, error = None, None
        try:
            doc = run(given, raw)
            return doc
        except Exception as exc:
            error = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._record(
                ProbeRecord(
                    probe=name,
                    node=node,
                    params=redact_params(given),
                    started_utc=started,
                    duration_s=time.perf_counter() - t0,
                    output_sha256=sha256_text("".join(raw)),
                    document=doc,
                    error=None if error is None else redact(error),
                )
            )


class ScriptSession(Protocol):
    """A node's session: runs a PowerShell script (WinRMSession, PsrpSession, RemoteSession)."""

    def run_script(self, text: str, *, idempotent: bool = False) -> ScriptResult: ...

    def close(self) -> None: ...


def open_session(endpoint: Endpoint) -> ScriptSession:
    """The endpoint's session: a PowerShell runspace (PSRP) unless it says winrs; WinRS fallback."""
    return RemoteSession(
        endpoint, mode=endpoint.session, configuration_name=endpoint.configuration_name
    )


class WinRMDriver(RecordingDriver):
    """The production driver over WS-Management: one runspace (PSRP) or shell (WinRS) per node."""

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint] | Sequence[Endpoint],
        *,
        session_factory: Callable[[Endpoint], ScriptSession] | None = None,
    ) -> None:
        super().__init__()
        items = list(endpoints.values()) if isinstance(endpoints, Mapping) else list(endpoints)
        if not items:
            raise HarnessError("WinRMDriver needs at least one endpoint")
        factory = session_factory or open_session
        self._sessions: dict[str, ScriptSession] = {}
        for endpoint in items:
            if endpoint.node in self._sessions:
                raise HarnessError(f"two endpoints for node {endpoint.node!r}")
            self._sessions[endpoint.node] = factory(endpoint)

    @property
    def nodes(self) -> list[str]:
        """Node names in endpoint order, first = default."""
        return list(self._sessions)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """Run probe `name` on `node` over WinRM; the validated document."""
        target = resolve_node(self.nodes, node)

        def run(given: dict[str, Any], raw: list[str]) -> dict[str, Any]:
            script = script_for(name, given, target)
            session = self._sessions[target]
            result = session.run_script(script, idempotent=probe_kind(name) == "read")
            if result.exit_code != 0:
                raw.append(result.stderr)
                message = failure_message(result.stderr, result.stdout, result.exit_code)
                raise ProbeFailedError(name, target, message, result.exit_code)
            raw.append(result.stdout)
            return parse_probe_output(name, result.stdout)

        return self._call(name, params, target, run)

    def close(self) -> None:
        """Close every node's shell and connection."""
        for session in self._sessions.values():
            session.close()
