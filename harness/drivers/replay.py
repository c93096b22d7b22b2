"""ReplayDriver: answers read probes from a capture folder, parsed and validated like over WinRM."""

from __future__ import annotations

import re
from datetime import datetime
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


def parse_utc(text: str) -> datetime:
    """A probe's UTC time (Z suffix, up to 7 fractional digits as Windows writes them)."""
    value = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise HarnessError(f"not a UTC time: {text!r}") from None


def _event_queries(queries: Any) -> dict[str, set[int]]:
    """{log (casefolded): ids} of a cluster_events parameter list."""
    out: dict[str, set[int]] = {}
    for q in queries or ():
        if isinstance(q, dict):
            out.setdefault(str(q.get("log", "")).casefold(), set()).update(
                int(i) for i in q.get("ids") or ()
            )
    return out


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
            if call is None and name == "cluster_events":
                return self._events_within(target, given, raw)
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

    def _events_within(self, target: str, given: dict[str, Any], raw: list[str]) -> dict[str, Any]:
        """A cluster_events question the capture did not ask as such (a passive audit's history
        window): answered from a captured call on the node that read the same logs and ids since
        no later, keeping the events since the asked time. A window starting before what was
        captured is refused (the capture cannot say what happened then)."""
        wanted = _event_queries(given.get("queries"))
        since = parse_utc(str(given.get("since_utc")))
        best: tuple[datetime, dict[str, Any]] | None = None
        for (probe, node, _params), call in self._calls.items():
            if probe != "cluster_events" or node != target.casefold() or call["outcome"] != "ok":
                continue
            params = dict(call["params"])
            have = _event_queries(params.get("queries"))
            covers = all(ids <= have.get(log, set()) for log, ids in wanted.items())
            start = parse_utc(str(params.get("since_utc")))
            if covers and (best is None or start < best[0]):
                best = (start, call)
        if best is None:
            raise HarnessError(
                f"probe 'cluster_events' on {target}: the capture {self.source} holds no event "
                "query of these logs and ids"
            )
        start, call = best
        if start > since:
            raise HarnessError(
                f"the capture {self.source} holds the events of {target} since "
                f"{call['params'].get('since_utc')} only; audit a shorter window (--since) or "
                "capture more (qmaudit capture --since-hours)"
            )
        if call.get("exit_code") != 0:
            raise HarnessError(f"(captured) {call.get('error') or 'no answer recorded'}")
        stdout = call.get("stdout") or ""
        raw.append(stdout)
        doc = parse_probe_output("cluster_events", stdout)
        doc["events"] = [
            e
            for e in doc["events"]
            if parse_utc(e["time_utc"]) >= since
            and int(e["id"]) in wanted.get(str(e["log"]).casefold(), set())
        ]
        return doc

    def close(self) -> None:
        """Nothing to release: a capture is files."""
