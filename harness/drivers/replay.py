"""ReplayDriver: answers read probes from a capture folder, parsed and validated like over WinRM."""

from __future__ import annotations

from typing import Any

from harness.drivers.base import canonical_json
from harness.drivers.winrm import RecordingDriver, failure_message, redact_params, resolve_node
from harness.errors import (
    AuthenticationError,
    HarnessError,
    ProbeFailedError,
    TransportError,
)
from harness.probes.protocol import probe_kind
from harness.schemas import parse_probe_output


class ReplayRefused(HarnessError):
    """A replay target was asked for something a capture cannot answer (an action probe)."""


def _key(probe: str, node: str, params: dict[str, Any]) -> tuple[str, str, str]:
    # Guest credentials are added by the driver that runs the probe, never part of the question.
    kept = {k: v for k, v in params.items() if not k.startswith("guest_")}
    return probe, node.casefold(), canonical_json(redact_params(kept))


class ReplayDriver(RecordingDriver):
    """A Driver over a capture: the captured raw stdout of the same probe, node and parameters."""

    def __init__(self, calls: list[dict[str, Any]], nodes: list[str], source: str) -> None:
        super().__init__()
        self._nodes = list(nodes)
        self.source = source
        self._calls: dict[tuple[str, str, str], dict[str, Any]] = {}
        for call in calls:
            # The last answer wins when a capture asked the same question twice.
            self._calls[_key(str(call["probe"]), str(call["node"]), dict(call["params"]))] = call

    @property
    def nodes(self) -> list[str]:
        """The capture inventory's nodes, first = default."""
        return list(self._nodes)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """The captured answer to this probe, validated; the captured failure raised as such."""
        target = resolve_node(self._nodes, node)
        try:
            kind = probe_kind(name)
        except ValueError as exc:
            raise ProbeFailedError(name, target, str(exc)) from None
        if kind != "read":
            raise ReplayRefused(
                f"replay target {self.source} answers read probes only: {name!r} is of kind "
                f"{kind!r} (a capture never ran it, and a replay changes nothing)"
            )

        def run(given: dict[str, Any], raw: list[str]) -> dict[str, Any]:
            call = self._calls.get(_key(name, target, given))
            if call is None:
                raise HarnessError(
                    f"probe {name!r} on {target} with parameters "
                    f"{canonical_json(redact_params(given))} is not in the capture {self.source}"
                )
            outcome = call["outcome"]
            stdout, stderr = call.get("stdout") or "", call.get("stderr") or ""
            if outcome == "auth_failed":
                raise AuthenticationError(target, f"(captured) {call.get('error')}")
            if outcome == "unreachable":
                raise TransportError(target, f"(captured) {call.get('error')}")
            exit_code = call.get("exit_code")
            if exit_code is None:
                raise HarnessError(f"(captured) {call.get('error') or 'no answer recorded'}")
            if exit_code != 0:
                raw.append(stderr)
                raise ProbeFailedError(
                    name, target, failure_message(stderr, stdout, exit_code), exit_code
                )
            raw.append(stdout)
            return parse_probe_output(name, stdout)

        return self._call(name, params, target, run)

    def close(self) -> None:
        """Nothing to release: a capture is files."""
