"""The capture run: every read probe on every node of an inventory, raw answers kept, read only."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.capture.recording import RecordingSession
from harness.domain import events
from harness.drivers.base import utc_now_iso
from harness.drivers.winrm import WinRMDriver, redact_params
from harness.errors import (
    AuthenticationError,
    HarnessError,
    InputError,
    ProbeFailedError,
    ProbeOutputError,
    TransportError,
)
from harness.exits import command_name
from harness.probes.protocol import probe_kind, probe_names
from harness.redact import redact
from harness.targets.inventory import (
    Inventory,
    endpoints_for,
    load_inventory,
    resolve_credentials,
)
from harness.targets.registry import parse_spec
from harness.transport.endpoint import Endpoint

# The event ids the audit reads (a passive audit's history included: role failures, node
# removals), asked for over the last day by default (capture --since-hours).
EVENT_IDS = tuple(int(i) for i in events.HISTORY_EVENTS)
# Providers whose event manifests (ids, channels, message templates) the fidelity ledger needs.
PROVIDERS = (
    "Microsoft-Windows-FailoverClustering",
    "Microsoft-Windows-Hyper-V-Worker",
    "Microsoft-Windows-Hyper-V-VMMS",
)
GUEST_PROBES = frozenset({"guest_clock", "guest_kvp"})


class CaptureRefused(HarnessError):
    """The capture was asked to run a probe that is not read-only."""

    exit_code = 2


@dataclass
class Call:
    """One probe call of the capture with everything the node answered."""

    probe: str
    node: str
    params: dict[str, Any]
    started_utc: str = ""
    duration_s: float = 0.0
    outcome: str = "ok"  # ok | invalid | failed | unreachable | auth_failed | error
    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    document: dict[str, Any] | None = None
    schema_error: dict[str, str] | None = None
    error: str | None = None


@dataclass
class CaptureResult:
    """Everything a capture gathered, before it is written (and pseudonymised)."""

    inventory: Inventory
    started_utc: str
    calls: list[Call] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)  # node -> "ok" or why it was skipped
    notes: list[str] = field(default_factory=list)
    cluster_doc: dict[str, Any] | None = None
    finished_utc: str = ""


def check_read_only(probes: Sequence[str]) -> None:
    """Refuse any probe that is not of kind read (from the probe file's qmaudit-kind header)."""
    for name in probes:
        try:
            kind = probe_kind(name)
        except ValueError as exc:
            raise InputError("--probe", repr(name), str(exc)) from None
        if kind != "read":
            raise CaptureRefused(
                f"capture is read-only: probe {name!r} is of kind {kind!r} and is never run "
                "by capture"
            )


class Collector:
    """Runs read probes through the WinRM driver and records each call's raw result."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        guest: dict[str, str],
        result: CaptureResult,
        session_factory: Callable[[Endpoint], RecordingSession] = RecordingSession,
    ) -> None:
        self.sessions: dict[str, RecordingSession] = {}

        def factory(endpoint: Endpoint) -> Any:
            session = session_factory(endpoint)
            self.sessions[endpoint.node] = session
            return session

        self.driver = WinRMDriver(endpoints, session_factory=factory)
        self.guest = dict(guest)
        self.result = result

    def close(self) -> None:
        """Close every node's session."""
        self.driver.close()

    def run(self, probe: str, params: dict[str, Any], node: str) -> Call:
        """Run one read probe on one node; never raises for what the node answered."""
        check_read_only([probe])
        call = Call(probe, node, redact_params(params))
        self.result.calls.append(call)
        sent = {**self.guest, **params} if probe in GUEST_PROBES and self.guest else dict(params)
        session = self.sessions[node]
        session.last = None
        call.started_utc, t0 = utc_now_iso(), time.perf_counter()
        try:
            call.document = self.driver.run_probe(probe, sent, node)
        except ProbeOutputError as exc:
            call.outcome = "invalid"
            call.schema_error = {"json_path": exc.json_path, "reason": exc.reason}
            call.error = exc.message
        except ProbeFailedError as exc:
            call.outcome, call.error = "failed", exc.message
        except AuthenticationError as exc:
            call.outcome, call.error = "auth_failed", exc.message
        except TransportError as exc:
            call.outcome, call.error = "unreachable", exc.message
        except HarnessError as exc:
            call.outcome, call.error = "error", exc.message
        call.duration_s = round(time.perf_counter() - t0, 6)
        raw = session.last
        if raw is not None:
            call.exit_code = raw.exit_code
            call.stdout = redact(raw.stdout)
            call.stderr = redact(raw.stderr)
        elif call.outcome == "ok":
            # A document without the text it came from is not evidence of what Windows said.
            call.outcome, call.document = "error", None
            call.error = "the WinRM session kept no raw output for this call"
        return call


def _ok(calls: list[Call], probe: str) -> list[Call]:
    return [c for c in calls if c.probe == probe and c.outcome == "ok" and c.document]


def _plan(
    probe: str,
    members: list[str],
    allowed: list[dict[str, Any]],
    details: dict[str, dict[str, Any]],
    since: str,
) -> list[tuple[str, dict[str, Any]]] | None:
    """(node, params) calls for one read probe, from what the capture found; None: no rule."""
    ids = [str(g["vm_id"]) for g in allowed]
    names = [str(g["vm_name"]) for g in allowed]
    first = members[:1]
    per_vm: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "vm_registration": lambda g: {"vm_id": g["vm_id"]},
        "vm_resources": lambda g: {"vm_id": g["vm_id"]},
    }
    if probe in per_vm:
        return [(n, per_vm[probe](g)) for n in members for g in allowed]
    if probe in GUEST_PROBES:
        # PowerShell Direct works only on the owner of a running VM.
        return [
            (str(g["owner_node"]), {"vm_name": g["vm_name"]})
            for g in allowed
            if details.get(str(g["vm_id"]), {}).get("state") == "Running"
            and str(g["owner_node"]) in members
        ]
    if probe == "path_info":
        # The VM's folders a passive audit asks every possible owner about (harness/audit/
        # passive.py storage_folders): its path, configuration location and smart-paging path.
        keys = ("path", "configuration_location", "smart_paging_file_path")
        paths = sorted({str(d[k]) for d in details.values() for k in keys if d.get(k)})
        return [(n, {"path": p}) for n in members for p in paths]
    table: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "cluster_events": [
            (n, {"since_utc": since, "queries": events.queries(EVENT_IDS)}) for n in members
        ],
        "network_counters": [(n, {}) for n in members],
        "move_status": [(n, {"vm_names": names}) for n in first] if names else [],
        "capture_event_providers": [(n, {"providers": list(PROVIDERS)}) for n in members],
        "capture_vm_events": [
            (n, {"since_utc": since, "vm_names": names, "vm_ids": ids}) for n in members
        ],
        "capture_cluster_parameters": [(n, {"vm_names": names}) for n in first] if names else [],
        "capture_vm_properties": [(n, {"vm_ids": ids}) for n in members],
        "capture_registration_folders": [(n, {"vm_ids": ids}) for n in members],
    }
    return table.get(probe)


def collect(
    inventory: Inventory,
    endpoints: list[Endpoint],
    guest: dict[str, str],
    *,
    only: Sequence[str] = (),
    since_hours: float = 24.0,
    session_factory: Callable[[Endpoint], RecordingSession] = RecordingSession,
    log: Callable[[str], None] = lambda _line: None,
) -> CaptureResult:
    """Run the capture against the inventory's nodes; unreachable nodes are recorded, not fatal."""
    reads = [n for n in probe_names() if probe_kind(n) == "read"]
    wanted = list(only) or reads
    check_read_only(wanted)
    result = CaptureResult(inventory, utc_now_iso())
    collector = Collector(endpoints, guest, result, session_factory)
    try:
        nodes = [e.node for e in endpoints]
        reachable: list[str] = []
        for node in nodes:
            log(f"capturing node {node} ...")
            call = collector.run("host_info", {}, node)
            if call.outcome in ("unreachable", "auth_failed"):
                kind = "unreachable" if call.outcome == "unreachable" else "authentication failed"
                result.nodes[node] = f"{kind}: {call.error}"
                log(f"  {node}: {kind}; going on with the other nodes")
                continue
            result.nodes[node] = "ok"
            reachable.append(node)
        for node in reachable:
            collector.run("cluster_inventory", {}, node)
        docs = _ok(result.calls, "cluster_inventory")
        same = [
            c
            for c in docs
            if str(c.document["cluster"]["name"]).casefold()  # type: ignore[index]
            == inventory.cluster.casefold()
        ]
        chosen = (same or docs)[:1]
        allowed: list[dict[str, Any]] = []
        if chosen:
            result.cluster_doc = chosen[0].document
            groups = list(chosen[0].document["vm_groups"])  # type: ignore[index]
            allowed = [g for g in groups if inventory.policy.allows(str(g["vm_name"]))]
        else:
            result.notes.append("no node answered cluster_inventory: per-VM probes not run")
        details: dict[str, dict[str, Any]] = {}
        if "vm_details" in wanted:
            for node in reachable:
                for group in allowed:
                    call = collector.run("vm_details", {"vm_id": group["vm_id"]}, node)
                    doc = call.document or {}
                    if doc.get("found") and doc.get("vm"):
                        if node.casefold() == str(group["owner_node"]).casefold():
                            details[str(group["vm_id"])] = doc["vm"]
                        else:
                            details.setdefault(str(group["vm_id"]), doc["vm"])
        # The window ends at the cluster's own clock (the earliest node's), which stamps its
        # events and which a passive audit of this capture measures --since from.
        since = (_cluster_now(result.calls) - timedelta(hours=since_hours)).isoformat()
        since = since.replace("+00:00", "Z")
        for probe in wanted:
            if probe in ("host_info", "cluster_inventory", "vm_details"):
                continue
            plan = _plan(probe, reachable, allowed, details, since)
            if plan is None:
                result.notes.append(f"read probe {probe!r} has no parameter rule: not run")
                continue
            for node, params in plan:
                collector.run(probe, params, node)
    finally:
        collector.close()
    result.finished_utc = utc_now_iso()
    return result


def _cluster_now(calls: list[Call]) -> datetime:
    """The earliest host_utc the nodes' host_info answered (this machine's clock if none)."""
    found = []
    for call in _ok(calls, "host_info"):
        text = str((call.document or {}).get("host_utc") or "")
        try:
            found.append(datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00"))
        except ValueError:
            continue
    return min(found) if found else datetime.now(UTC)


def _names_inventory(spec: str) -> bool:
    try:
        return parse_spec(spec, check=False).is_inventory
    except InputError:
        return False


def open_for_capture(spec: str) -> tuple[Inventory, list[Endpoint], dict[str, str]]:
    """The inventory, its endpoints and the guest credentials (InputError on a bad file)."""
    if not _names_inventory(spec):
        raise InputError(
            "--target",
            repr(spec),
            "capture needs an inventory file (.yaml); `"
            + command_name()
            + " lab serve` writes one for the lab",
        )
    inventory = load_inventory(spec)
    endpoints = endpoints_for(inventory)
    user, password = resolve_credentials(
        inventory.guest_credentials, inventory.source, "guest password"
    )
    guest = {"guest_user": user, "guest_password": password} if password else {}
    return inventory, endpoints, guest
