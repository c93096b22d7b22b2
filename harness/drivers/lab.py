"""LabDriver: answers probes in-process from the lab model, validated exactly like over WinRM."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from harness.drivers.winrm import RecordingDriver, resolve_node, script_for
from harness.errors import LabOperationError, ProbeFailedError
from harness.probes.commands import modules_in
from harness.schemas import parse_probe_output
from harness.transport.endpoint import Endpoint


def serialise(doc: Any) -> str:
    """The JSON text the lab's WinRM endpoint sends for a document (compact, non-ASCII kept)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class LabDriver(RecordingDriver):
    """The lab cluster at the probe seam, no network: same names, errors and validation."""

    def __init__(self, cluster: Any, responder: Any = None, meter: Any = None) -> None:
        super().__init__()
        # Windows' real-time cost per probe (harness.lab.cost.CostMeter); None: instant.
        self._meter = meter
        if responder is None:
            # The lab builds its own responder: drivers sit below the lab and never import it.
            responder = cluster.responder()
        self.cluster = cluster
        self._responder = responder
        topology = cluster.topology
        # Members first (the first member is the default node), then the non-members, which a
        # real harness can also reach (QM-11 targets one).
        self._nodes = [n.name for n in topology.nodes] + [h.name for h in topology.non_members]

    @property
    def nodes(self) -> list[str]:
        """Cluster nodes (first = default) followed by non-member hosts."""
        return list(self._nodes)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """Answer probe `name` on `node` from the model; the validated document."""
        target = resolve_node(self._nodes, node)

        def run(given: dict[str, Any], raw: list[str]) -> dict[str, Any]:
            # Same checks as the WinRM path: unknown probes and unserialisable params fail here.
            script = script_for(name, given, target)
            if self._meter is not None:
                self._meter.charge(target, modules_in(script))
            try:
                doc = self._responder.answer(target, name, given)
            except (LabOperationError, ValueError) as exc:
                # Over WinRM the endpoint throws str(exc); the decoded message is that text.
                # Line breaks normalised the way the CLIXML round trip leaves them.
                message = "\n".join(str(exc).splitlines()).strip() or type(exc).__name__
                raw.append(message)
                raise ProbeFailedError(name, target, message, 1) from None
            text = serialise(doc)
            raw.append(text)
            return parse_probe_output(name, text)

        return self._call(name, params, target, run)

    def close(self) -> None:
        """Nothing to release: the lab lives in this process."""


def lab_endpoints(server: Any, transport: str = "ntlm", **settings: Any) -> list[Endpoint]:
    """Endpoints for every host of a started LabServer (HTTP on loopback; NTLM seals messages)."""
    creds = server.credentials
    endpoints = []
    for host, url in server.endpoints.items():
        parts = urlsplit(url)
        endpoints.append(
            Endpoint(
                node=host,
                host=parts.hostname or "127.0.0.1",
                port=parts.port,
                scheme=parts.scheme,
                path=parts.path,
                transport=transport,
                username=creds.qualified_username,
                password=creds.password,
                **settings,
            )
        )
    return endpoints
