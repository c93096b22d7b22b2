"""What a move sent between the nodes, judged against the VM's memory (QM-09)."""

from __future__ import annotations

from typing import Any

from harness.audit.assertions import check, too_thin
from harness.audit.moves import MoveOutcome
from harness.domain.storage import is_under


def storage_on_cluster_networks(o: MoveOutcome) -> str | None:
    """Why the VM's storage traffic crosses the cluster networks (None: it does not).

    An SMB 3 share is reached over the networks the nodes share with the file server; a CSV in
    redirected I/O (ReFS CSVs always) sends a node's reads and writes to its coordinator.
    """
    if o.vm.storage == "SMB 3":
        return "SMB 3 share"
    if o.vm.storage != "CSV":
        return None
    for csv in o.before.inventory.csvs:
        root = str(csv.get("friendly_volume_name") or "")
        if root and is_under(o.vm.path, root) and csv.get("redirected") is not False:
            return f"CSV {csv.get('name')} in redirected I/O or of unknown state"
    return None


def judge_sent(outcomes: list[MoveOutcome], limit: float, evidence: Any) -> None:
    """Each move sent at most `limit` of its VM's memory from the source; a VM whose storage
    traffic crosses the cluster networks is not judged (its figures stay in `evidence`)."""
    __tracebackhide__ = True
    unjudged: dict[str, dict[str, object]] = {}
    judged = 0
    for o in outcomes:
        assert o.after is not None
        sent = o.after.network[o.source][0] - o.before.network[o.source][0]
        fraction = sent / o.vm.memory_bytes
        evidence.measure(f"{o.vm.name}: bytes sent by the source", sent, "bytes")
        # Per GiB, so runs on VMs of different sizes compare (nightly trend and compare).
        per_gib = float(sent) / o.vm.memory_gib if o.vm.memory_gib else 0.0
        evidence.measure(f"{o.vm.name}: bytes sent per GiB of memory", per_gib, "bytes/GiB")
        crossing = storage_on_cluster_networks(o)
        if fraction > limit and crossing:
            # Adapter counters cannot tell the save's storage I/O from memory: this VM is not
            # judged (its figures stay in the evidence); the VMs on direct storage still are.
            unjudged[o.vm.name] = {
                "why": f"its storage traffic crosses the cluster networks ({crossing}), so the "
                "bytes sent cannot tell memory from the save's own writes",
                "sent_bytes": sent,
                "memory_bytes": o.vm.memory_bytes,
            }
            continue
        judged += 1
        check(
            fraction <= limit,
            f"VM {o.vm.name!r}: memory must not cross the network",
            sent_bytes=sent,
            memory_bytes=o.vm.memory_bytes,
            limit_fraction=limit,
        )
    if unjudged:
        evidence.observe("after", "VMs not judged on network bytes", unjudged)
    if not judged:
        too_thin(
            "no moved VM's network bytes can be judged: every one of them has storage traffic "
            "on the cluster networks",
            not_judged=unjudged,
            limit_fraction=limit,
        )
