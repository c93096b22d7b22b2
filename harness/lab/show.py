"""Plain-text tables of a lab topology: cluster, nodes, non-members, storage, VMs, rules off."""

from __future__ import annotations

from collections.abc import Sequence

from harness.lab.storage import resolve
from harness.lab.topology import Topology

KIND_LABEL = {"csv": "CSV", "cluster_disk": "Cluster Disk", "smb": "SMB 3", "local": "local"}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a dashed rule under the headers."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_topology(topology: Topology) -> str:
    """Readable summary of a topology for `qmaudit lab show`."""
    t = topology
    c = t.cluster
    out = [
        f"Cluster {c.name}  (MoveTypeThreshold {c.move_type_threshold}, "
        f"network {c.network_mb_s:g} MB/s)  from {t.source}",
        "",
        "Nodes",
        table(
            ["name", "state", "ProgramData", "local disks (read/write MB/s)"],
            [
                (
                    n.name,
                    n.state,
                    n.program_data,
                    ", ".join(f"{d.path} {d.read_mb_s:g}/{d.write_mb_s:g}" for d in n.local_disks),
                )
                for n in t.nodes
            ],
        ),
    ]
    if t.non_members:
        out += [
            "",
            "Non-member hosts",
            table(["name", "ProgramData"], [(m.name, m.program_data) for m in t.non_members]),
        ]
    storage_rows: list[tuple[object, ...]] = [
        ("CSV", s.name, s.path, "all Up nodes", s.read_mb_s, s.write_mb_s) for s in t.csvs
    ]
    storage_rows += [
        (
            "Cluster Disk",
            d.name,
            d.mount,
            f"{d.owner} (possible: {', '.join(d.possible_owners)})",
            d.read_mb_s,
            d.write_mb_s,
        )
        for d in t.cluster_disks
    ]
    storage_rows += [
        ("SMB 3", s.path, s.path, "all nodes", s.read_mb_s, s.write_mb_s) for s in t.smb_shares
    ]
    out += [
        "",
        "Storage",
        table(
            ["kind", "name", "path", "owner", "read MB/s", "write MB/s"],
            [(k, n, p, o, f"{r:g}", f"{w:g}") for k, n, p, o, r, w in storage_rows],
        ),
    ]
    vm_rows = []
    for v in t.vms:
        ref = resolve(t, v.storage, v.owner)
        sync = (
            "on"
            if v.time_sync_enabled and v.time_sync_functional
            else ("broken" if v.time_sync_enabled else "off")
        )
        vm_rows.append(
            (
                v.name,
                v.state,
                v.owner,
                f"{v.memory_mib} MiB",
                v.config_version,
                KIND_LABEL.get(ref.kind, ref.kind) if ref else "?",
                v.priority,
                sync,
                "yes" if v.passthrough_disk else "",
                v.vm_id,
            )
        )
    out += [
        "",
        "VMs",
        table(
            [
                "name",
                "state",
                "owner",
                "memory",
                "config",
                "storage",
                "priority",
                "time sync",
                "pass-through",
                "VMId",
            ],
            vm_rows,
        ),
    ]
    rules = [
        (
            r.rule,
            r.vm or "",
            r.node or "",
            "" if r.vm or r.node else "whole cluster",
            ", ".join(f"{k}={val}" for k, val in r.params.items()),
        )
        for r in t.rules_off
    ]
    out += [
        "",
        "Rules off",
        table(["rule", "vm", "node", "scope", "params"], rules) if rules else "(none)",
    ]
    return "\n".join(out)
