"""`qmaudit check-inventory`: validate an inventory, then a read-only preflight of every node."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from harness.drivers.base import Driver
from harness.errors import AuthenticationError, HarnessError, TransportError
from harness.probes.integration import service_status, time_sync_service
from harness.redact import redact
from harness.targets.fidelity import ledger_path, render_unverified, unverified_facts
from harness.targets.inventory import (
    Inventory,
    InventoryDriver,
    check_inventory_spec,
    endpoints_for,
    resolve_credentials,
)
from harness.targets.registry import first_match
from harness.targets.replay import is_replay_spec, load_replay
from harness.terminal import printable

OK = "ok"


@dataclass
class NodeRow:
    """What the preflight found on one node."""

    node: str
    endpoint: str
    reachable: str = "-"
    auth: str = "-"
    modules: str = "-"
    member: str = "-"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VmRow:
    """What the preflight found about one VM the audit may move."""

    vm: str
    owner: str = "-"
    state: str = "-"
    time_sync: str = "-"
    ps_direct: str = "-"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Preflight:
    """The preflight's findings: per node, per VM, and anything about the file's VM lists."""

    inventory: Inventory
    nodes: list[NodeRow] = field(default_factory=list)
    vms: list[VmRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        rows_ok = all(r.ok for r in self.nodes) and all(r.ok for r in self.vms)
        return rows_ok and not self.problems


def _short(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
    # Whole (a transport error cut mid-word hides its cause), on one line, remote text escaped.
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return printable(redact(" | ".join(lines)), keep_newlines=False)


def _check_node(row: NodeRow, driver: Driver, cluster: str) -> dict[str, Any] | None:
    """Fill a node row; the node's cluster_inventory document if it could be read."""
    try:
        info = driver.run_probe("host_info", {}, row.node)
    except AuthenticationError as exc:
        row.reachable, row.auth = "yes", "FAILED"
        row.problems.append(_short(exc))
        return None
    except TransportError as exc:
        row.reachable = "NO"
        row.problems.append(_short(exc))
        return None
    except HarnessError as exc:
        row.reachable, row.auth, row.modules = "yes", OK, "ERROR"
        row.problems.append(_short(exc))
        return None
    row.reachable, row.auth = "yes", OK
    modules = info["modules"]
    missing = [
        name
        for key, name in (("failover_clusters", "FailoverClusters"), ("hyper_v", "Hyper-V"))
        if not modules.get(key)
    ]
    row.modules = OK if not missing else "MISSING " + ",".join(missing)
    if missing:
        row.problems.append(f"PowerShell modules missing: {', '.join(missing)}")
        return None
    try:
        doc = driver.run_probe("cluster_inventory", {}, row.node)
    except HarnessError as exc:
        row.member = "ERROR"
        row.problems.append(_short(exc))
        return None
    name = str(doc["cluster"]["name"])
    listed = {str(n["name"]).casefold() for n in doc["nodes"]}
    if name.casefold() != cluster.casefold():
        row.member = f"NO ({name})"
        row.problems.append(f"node is in cluster {name!r}, the inventory says {cluster!r}")
    elif row.node.casefold() not in listed:
        row.member = "NO"
        row.problems.append(f"cluster {name!r} does not list node {row.node!r}")
    else:
        row.member = OK
    return doc


def _time_sync(details: dict[str, Any]) -> str:
    service = time_sync_service(details.get("integration_services") or [])
    if service is None:
        return "unknown"
    state = "on" if service.get("enabled") else "off"
    return f"{state} ({service_status(service) or 'no status'})"


def _check_vm(row: VmRow, group: dict[str, Any], driver: Driver) -> None:
    owner = str(group["owner_node"])
    row.owner = owner
    if owner.casefold() not in {n.casefold() for n in driver.nodes}:
        row.problems.append(f"owner {owner!r} is not a node of the inventory")
        return
    try:
        doc = driver.run_probe("vm_details", {"vm_id": group["vm_id"]}, owner)
    except HarnessError as exc:
        row.problems.append(_short(exc))
        return
    details = doc.get("vm")
    if not doc.get("found") or details is None:
        row.problems.append(f"the VM is not registered on its owner {owner!r}")
        return
    row.state = str(details["state"])
    row.time_sync = _time_sync(details)
    if row.state != "Running":
        row.ps_direct = "n/a (not running)"
        return
    try:
        driver.run_probe("guest_clock", {"vm_name": row.vm}, owner)
        row.ps_direct = OK
    except HarnessError as exc:
        row.ps_direct = "FAILED"
        row.problems.append(f"PowerShell Direct: {_short(exc)}")


def _check_vms(result: Preflight, doc: dict[str, Any], driver: Driver) -> None:
    policy = result.inventory.policy
    groups = list(doc["vm_groups"])
    for index, pattern in enumerate(policy.allow):
        if not any(first_match(str(g["vm_name"]), [pattern]) for g in groups):
            result.problems.append(
                f"vms.allow[{index}] {pattern!r} matches no clustered VM of "
                f"{result.inventory.cluster!r}"
            )
    for pattern in policy.never:
        if not any(first_match(str(g["vm_name"]), [pattern]) for g in groups):
            result.notes.append(f"vms.never {pattern!r} matches no clustered VM")
    for group in sorted(groups, key=lambda g: str(g["vm_name"]).casefold()):
        name = str(group["vm_name"])
        if policy.allows(name):
            row = VmRow(name)
            _check_vm(row, group, driver)
            result.vms.append(row)


def run_preflight(spec: str, out: TextIO | None = None) -> Preflight:
    """Validate the file (InputError), then check every node and allowed VM, read-only.

    `replay:<capture folder>` re-checks a capture offline: same checks, answers from the files.
    """
    out = out or sys.stdout
    if is_replay_spec(spec):
        _capture, inventory, replay = load_replay(spec)
        labels = [(n.name, f"{n.name} (replay)", spec.strip()) for n in inventory.nodes]
        return _preflight(inventory, replay, labels, out)
    inventory = check_inventory_spec(spec)
    endpoints = endpoints_for(inventory)
    guest = resolve_credentials(inventory.guest_credentials, inventory.source, "guest password")
    guest_params = {"guest_user": guest[0], "guest_password": guest[1]} if guest[1] else {}
    driver = InventoryDriver(endpoints, guest_params)
    return _preflight(inventory, driver, [(e.node, e.label, e.url) for e in endpoints], out)


def _preflight(
    inventory: Inventory, driver: Driver, nodes: list[tuple[str, str, str]], out: TextIO
) -> Preflight:
    """The checks themselves, over any driver: (node, label, endpoint) per inventory node."""
    result = Preflight(inventory)
    try:
        cluster_doc: dict[str, Any] | None = None
        for node, label, endpoint in nodes:
            print(f"checking node {label} ...", file=out, flush=True)
            row = NodeRow(node, endpoint)
            doc = _check_node(row, driver, inventory.cluster)
            if cluster_doc is None and doc is not None and row.ok:
                cluster_doc = doc
            result.nodes.append(row)
        if cluster_doc is None:
            result.problems.append("no node answered as a member of the cluster: VMs not checked")
        else:
            print("checking the VMs the audit may move ...", file=out, flush=True)
            _check_vms(result, cluster_doc, driver)
    finally:
        driver.close()
    return result


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def render(result: Preflight) -> str:
    """The preflight as text: node table, VM table, problems, verdict."""
    inv = result.inventory
    lines = [f"\ninventory {inv.source}: cluster {inv.cluster!r}, {len(inv.nodes)} node(s)\n"]
    node_rows = [
        [r.node, r.endpoint, r.reachable, r.auth, r.modules, r.member, OK if r.ok else "FAIL"]
        for r in result.nodes
    ]
    headers = ["node", "endpoint", "reachable", "auth", "modules", "member", "result"]
    lines += _table(headers, node_rows)
    if result.vms:
        vm_rows = [
            [r.vm, r.owner, r.state, r.time_sync, r.ps_direct, OK if r.ok else "FAIL"]
            for r in result.vms
        ]
        lines.append("")
        headers = ["vm", "owner", "state", "time sync", "PowerShell Direct", "result"]
        lines += _table(headers, vm_rows)
    problems = [f"{r.node}: {p}" for r in result.nodes for p in r.problems]
    problems += [f"{r.vm}: {p}" for r in result.vms for p in r.problems]
    problems += result.problems
    if problems:
        lines += ["", "problems:"] + [f"  - {p}" for p in problems]
    if result.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in result.notes]
    verdict = "the audit can run" if result.ok else "the audit can NOT run"
    lines += ["", f"qmaudit: {verdict} against {inv.cluster!r}"]
    return redact("\n".join(lines))


def check_inventory(spec: str, out: TextIO | None = None, *, full: bool = False) -> int:
    """The check-inventory command: 0 if the audit can run, 1 if not (InputError -> 2).

    The verdict comes last; before it, one line counts the Windows facts not yet verified on
    Windows and says where to read them (`full`: every one of them, one per line).
    """
    out = out or sys.stdout
    result = run_preflight(spec, out)
    print(unverified_note(full=full), file=out, flush=True)
    print(render(result), file=out, flush=True)
    return 0 if result.ok else 1


def unverified_note(*, full: bool = True) -> str:
    """What the first real run tests: the unverified rows of the Windows fidelity ledger.

    One line with their count and where to read them; `full`: then one line per fact.
    """
    path = ledger_path()
    if path is None:
        return "\nthe Windows fidelity ledger (docs/windows-fidelity.md) was not found"
    rows = unverified_facts(path)
    if not rows:
        return f"\nevery fact about Windows in {path.name} is confirmed by a public source"
    head = (
        f"\nunverified on Windows: {len(rows)} fact(s) the checks rely on have no public source "
        f"yet; a run on a real cluster tests them (list: {path}, or check-inventory --all)"
    )
    return head + ("\n" + render_unverified(rows) if full else "")
