"""The whole-VM fingerprint: every configuration and cluster value a move must keep, compared.

Two parts, read by the snapshots before and after every move (harness/audit/moves.py):
- the VM's configuration as its owner's Hyper-V shows it (vm_details: memory startup, minimum,
  maximum and dynamic, processor count, generation, version, network adapters with switch and
  connection, disks, integration service settings, checkpoints, automatic start/stop actions);
- every value of its two cluster resources and its group, as each node reads them (vm_resources:
  name, type, every private property, the common properties the probe reads, and the registry's
  Name, Type and every Parameters value under HKLM:\\Cluster\\Resources\\<id>).

Values a running or moving VM changes by itself (its state, migration progress) are left out by
name (VOLATILE); everything else must be identical. A value only one side carries (an older
capture) is not compared. docs/observables.md names the claim each difference violates.
"""

from __future__ import annotations

import re
from typing import Any

# Private properties Windows updates while a VM runs or moves (MigrationState, MigrationProgress,
# MigrationFailureReason, VmState; docs/windows-fidelity.md): never a difference.
VOLATILE = re.compile(r"migration|state|progress|status|time", re.IGNORECASE)
# Checkpoints are files beside the VM (QM-04); the rest of the configuration is what the guest
# sees of its hardware (QM-14).
FILES_KEYS = frozenset({"checkpoints"})


def _differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        k: [before[k], after[k]]
        for k in sorted(before.keys() & after.keys())
        if before[k] != after[k]
    }


def vm_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """{"configuration": {prop: [before, after]}, "checkpoints": {...}} for what changed."""
    changed = _differences(before, after)
    out: dict[str, dict[str, list[Any]]] = {}
    files = {k: v for k, v in changed.items() if k in FILES_KEYS}
    config = {k: v for k, v in changed.items() if k not in FILES_KEYS}
    if config:
        out["configuration"] = config
    if files:
        out["checkpoints"] = files
    return out


def _stable(values: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if not VOLATILE.search(k)}


def resource_values(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """One node's view: per resource id, the values a move must keep (flat keys)."""
    out: dict[str, Any] = {}
    for r in resources:
        rid = r["id"]
        out[f"{rid} name"] = r["name"]
        out[f"{rid} type"] = r["resource_type"]
        if "private" in r:
            for k, v in _stable(r["private"]).items():
                out[f"{rid} private {k}"] = v
        for k, v in (r.get("common") or {}).items():
            out[f"{rid} common {k}"] = v
        reg = r["registry"]
        out[f"{rid} registry present"] = reg["present"]
        out[f"{rid} registry name"] = reg["name"]
        out[f"{rid} registry type"] = reg["type"]
        if "parameters" in reg:
            for k, v in _stable(reg["parameters"]).items():
                out[f"{rid} registry {k}"] = v
        for k, v in (r.get("group_values") or {}).items():
            out[f"group {k}"] = v
    return out


def cluster_changes(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, list[Any]]]:
    """Per node read both times: each resource or group value that changed, [before, after].

    Only resources present on both sides are compared (a resource that vanished or appeared is
    the resource identity invariant's finding, not this one's).
    """
    out: dict[str, dict[str, list[Any]]] = {}
    for node in sorted(before.keys() & after.keys()):
        ids_before = {r["id"] for r in before[node]}
        ids_after = {r["id"] for r in after[node]}
        common = ids_before & ids_after
        b = resource_values([r for r in before[node] if r["id"] in common])
        a = resource_values([r for r in after[node] if r["id"] in common])
        changed = _differences(b, a)
        if changed:
            out[node] = changed
    return out
