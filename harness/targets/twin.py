"""The twin of a target: a lab topology built from the target's read probes, with its policy."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.domain.storage import is_unc, is_under
from harness.domain.thresholds import Thresholds
from harness.errors import HarnessError, InputError
from harness.targets.registry import Target, TargetSpec, VmPolicy

if TYPE_CHECKING:
    from harness.audit.cluster import Cluster

TOPOLOGY_FILE = "topology.yaml"
POLICY_FILE = "policy.json"
DEFAULT_PROGRAM_DATA = "C:\\ProgramData"  # Windows' default %ProgramData%
LAB_KINDS = frozenset({"lab", "lab+inproc", "lab+sim"})
# What the lab models (topology.schema.json); anything else on a real cluster cannot be twinned.
TWIN_NODE_STATES = frozenset({"Up", "Down", "Paused"})
TWIN_VM_STATES = frozenset({"Running", "Off", "Saved", "Paused"})


def assumed_mb_s(thresholds: Thresholds) -> float:
    """The throughput assumed for storage whose throughput the target does not declare.

    The slowest symmetric read/write speed the QM-09 default bound still accepts: a save and a
    restore of 1 GiB take `max_downtime_per_gib_s` seconds. The plan is then as long as the
    audit's own bound allows, never shorter than a target within it would take.
    """
    return 2 * 2**30 / (thresholds.max_downtime_per_gib_s * 1e6)


def escape_pattern(name: str) -> str:
    """An fnmatch pattern matching exactly `name` (VM names may contain * ? [)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@dataclass(frozen=True)
class TwinPolicy:
    """The real target's policy, applied unchanged to the run on its twin."""

    target_spec: str
    allow: tuple[str, ...]
    never: tuple[str, ...] = ()
    allow_destructive: bool = False
    lab_actions: bool = False
    non_member_host: str | None = None
    thresholds: dict[str, float] = field(default_factory=lambda: asdict(Thresholds()))
    threshold_overrides: tuple[str, ...] = ()

    @classmethod
    def of(cls, target: Target, vm_names: list[str]) -> TwinPolicy:
        """The policy of an opened target; a target without patterns allows VM by VM."""
        if target.vm_policy is not None:
            allow, never = target.vm_policy.allow, target.vm_policy.never
        else:
            allow = tuple(escape_pattern(n) for n in vm_names if target.refusal(n) is None)
            never = ()
        return cls(
            target_spec=target.spec,
            allow=tuple(allow),
            never=tuple(never),
            allow_destructive=target.allow_destructive,
            lab_actions=target.lab_actions,
            non_member_host=target.non_member_host,
            thresholds=asdict(target.thresholds),
            threshold_overrides=tuple(sorted(target.threshold_overrides)),
        )

    @classmethod
    def read(cls, path: Path) -> TwinPolicy:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                target_spec=str(doc["target_spec"]),
                allow=tuple(doc["allow"]),
                never=tuple(doc["never"]),
                allow_destructive=bool(doc["allow_destructive"]),
                lab_actions=bool(doc["lab_actions"]),
                non_member_host=doc["non_member_host"],
                thresholds=dict(doc["thresholds"]),
                threshold_overrides=tuple(doc["threshold_overrides"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(str(path), "$", f"not a twin policy: {exc}") from None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


@dataclass
class Twin:
    """A twin topology document (topology.schema.json) and the assumptions it rests on."""

    document: dict[str, Any]
    policy: TwinPolicy
    assumptions: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> TargetSpec:
        """Write topology.yaml and policy.json into `folder`; the `twin:` spec that opens it."""
        folder.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True)
        (folder / TOPOLOGY_FILE).write_text(text, encoding="utf-8")
        self.policy.write(folder / POLICY_FILE)
        path = str(folder.resolve())
        return TargetSpec(f"twin:{path}", "twin", path)


def lab_twin(spec: TargetSpec) -> Twin:
    """A lab target's twin is its own topology file, with the lab's policy (everything allowed)."""
    from harness.lab.topology import DEFAULT_TOPOLOGY, load_topology
    from harness.yamlfile import read_yaml_file

    file = spec.path or str(DEFAULT_TOPOLOGY)
    topology = load_topology(file)
    document = read_yaml_file(file)
    policy = TwinPolicy(
        target_spec=spec.text,
        allow=("*",),
        allow_destructive=True,
        lab_actions=True,
        non_member_host=topology.non_members[0].name if topology.non_members else None,
    )
    return Twin(document, policy, [f"the lab's own topology ({file})"])


def twin_of(cluster: Cluster, target: Target) -> Twin:
    """Build the twin of `target` from its read probes only (inventory, vm_details, host_info).

    Placement, states, memory, versions, storage, priorities, owners, time sync, pass-through
    and MoveTypeThreshold are read; throughputs are the target's declared ones, else
    `assumed_mb_s` (stated in the twin's assumptions). Raises HarnessError when the cluster
    holds something the lab cannot model (a node Joining, a VM Starting, ...).
    """
    inventory = cluster.inventory()
    assumptions: list[str] = []
    assumed = round(assumed_mb_s(target.thresholds), 3)

    def speed(root: str) -> dict[str, float]:
        declared = target.throughput_for(root)
        if declared is not None:
            return {"read_mb_s": declared.read_mb_s, "write_mb_s": declared.write_mb_s}
        note = (
            f"{root}: throughput not declared; assumed {assumed:g} MB/s read and write "
            f"(the slowest the {target.thresholds.max_downtime_per_gib_s:g} s/GiB bound accepts)"
        )
        if note not in assumptions:
            assumptions.append(note)
        return {"read_mb_s": assumed, "write_mb_s": assumed}

    csv_roots = [
        str(c["friendly_volume_name"]) for c in inventory.csvs if c["friendly_volume_name"]
    ]
    disks = [d for d in inventory.disks if d.mount_points]
    details = []
    for group in inventory.groups:
        found = cluster.vm_details(group.vm_id, group.owner_node)
        if found is None:
            raise HarnessError(f"cannot build the twin: VM {group.vm_name!r} has no details")
        details.append((group, found))

    local: dict[str, set[str]] = {}  # node -> drive roots of VMs on local storage
    shares: list[str] = []
    vms: list[dict[str, Any]] = []
    for group, vm in details:
        if vm.state not in TWIN_VM_STATES:
            raise HarnessError(
                f"cannot build the twin: VM {vm.name!r} is {vm.state} (the lab models "
                f"{', '.join(sorted(TWIN_VM_STATES))}); plan again when it has settled"
            )
        root = _storage_root(vm.path, csv_roots, [m for d in disks for m in d.mount_points])
        if is_unc(root) and root not in shares:
            shares.append(root)
        elif (
            not is_unc(root)
            and not any(is_under(root, r) for r in csv_roots)
            and not any(root in d.mount_points for d in disks)
        ):
            local.setdefault(group.owner_node, set()).add(root)
        entry: dict[str, Any] = {
            "name": vm.name,
            "vm_id": vm.id,
            "memory_mib": max(32, vm.memory_bytes // 2**20),
            "config_version": vm.config_version,
            "state": vm.state,
            "owner": group.owner_node,
            "storage": root,
            "priority": group.priority,
            "preferred_owners": list(group.preferred_owners),
            "possible_owners": list(group.possible_owners),
            "passthrough_disk": vm.passthrough,
        }
        if vm.time_sync_enabled is not None:
            # A status other than OK (No Contact, Lost Communication) is time sync not working;
            # None (disabled, or the VM is not running) says nothing against it.
            functional = vm.time_sync_status in (None, "OK")
            entry["time_sync"] = {"enabled": vm.time_sync_enabled, "functional": functional}
        if vm.macs:
            entry["mac_addresses"] = list(vm.macs)
        vms.append(entry)

    nodes = []
    for node in inventory.nodes:
        if node.state not in TWIN_NODE_STATES:
            raise HarnessError(
                f"cannot build the twin: node {node.name!r} is {node.state} (the lab models "
                f"{', '.join(sorted(TWIN_NODE_STATES))})"
            )
        program_data = _program_data(cluster, node.name, assumptions)
        roots = sorted(local.get(node.name, set()) | {program_data[:3]})
        nodes.append(
            {
                "name": node.name,
                "state": node.state,
                "program_data": program_data,
                "local_disks": [{"path": r, **speed(r)} for r in roots],
            }
        )
    document: dict[str, Any] = {
        "cluster": {
            "name": inventory.cluster,
            "move_type_threshold": inventory.move_type_threshold,
            "start_utc": inventory.host_utc.isoformat().replace("+00:00", "Z"),
        },
        "nodes": nodes,
    }
    assumptions.append("network throughput not probed: the lab's default")
    if target.non_member_host:
        document["non_members"] = [_non_member(cluster, target.non_member_host, assumptions)]
    document["storage"] = {
        "csvs": [
            {
                "name": c["name"],
                "path": c["friendly_volume_name"],
                **speed(c["friendly_volume_name"]),
            }
            for c in inventory.csvs
            if c["friendly_volume_name"]
        ],
        "cluster_disks": [
            {
                "name": d.name,
                "mount": d.mount_points[0],
                "owner": d.owner_node,
                "possible_owners": list(d.possible_owners),
                **speed(d.mount_points[0]),
            }
            for d in disks
        ],
        "smb_shares": [{"path": s, **speed(s)} for s in shares],
    }
    document["vms"] = vms
    document["rules_off"] = []
    _check(document, target.spec)
    names = [v["name"] for v in vms]
    return Twin(document, TwinPolicy.of(target, names), assumptions)


def _storage_root(path: str, csvs: list[str], mounts: list[str]) -> str:
    """The storage root holding a VM's folder: a CSV, a disk mount, a share or a drive."""
    for root in [*csvs, *mounts]:
        if is_under(path, root):
            return root
    if is_unc(path):
        parts = [p for p in path.split("\\") if p]
        return "\\\\" + "\\".join(parts[:2])
    return path[:2] + "\\"


def _program_data(cluster: Cluster, host: str, assumptions: list[str]) -> str:
    """The host's ProgramData folder; a host that does not answer (Down) gets the default."""
    try:
        return str(cluster.host_info(host)["program_data"])
    except HarnessError as exc:
        why = str(exc).strip() or type(exc).__name__
        assumptions.append(
            f"{host}: %ProgramData% not read (host_info probe: {why}). It is where Hyper-V keeps "
            f"the registration links of the VMs a node hosts (QM-22); the twin assumes Windows' "
            f"default {DEFAULT_PROGRAM_DATA} for this host. Only the plan's model of the host "
            "uses it: a run probes the host itself"
        )
        return DEFAULT_PROGRAM_DATA


def _non_member(cluster: Cluster, name: str, assumptions: list[str]) -> dict[str, Any]:
    return {"name": name, "program_data": _program_data(cluster, name, assumptions)}


def _check(document: dict[str, Any], spec: str) -> None:
    """The twin must be a valid lab topology; if not, the cluster holds what the lab can't model."""
    from harness.lab.topology import parse_topology

    try:
        parse_topology(json.loads(json.dumps(document)), f"twin of {spec}")
    except InputError as exc:
        raise HarnessError(f"cannot build the twin: {exc}") from None


def check_twin(spec: TargetSpec) -> None:
    """A `twin:` folder holds a valid topology and policy (InputError otherwise)."""
    from harness.lab.topology import load_topology

    folder = Path(spec.path or "")
    load_topology(folder / TOPOLOGY_FILE)
    TwinPolicy.read(folder / POLICY_FILE)


def open_twin_target(spec: TargetSpec, lab_speed: float = 0.0) -> Target:
    """`twin:<folder>`: the twin on simulated time, under the real target's policy."""
    from harness.targets.simlab import open_sim_lab

    folder = Path(spec.path or "")
    policy = TwinPolicy.read(folder / POLICY_FILE)
    target = open_sim_lab(str(folder / TOPOLOGY_FILE))
    vm_policy = VmPolicy(policy.allow, policy.never)
    target.spec = spec.text
    target.thresholds = Thresholds(**policy.thresholds)
    target.threshold_overrides = frozenset(policy.threshold_overrides)
    target.allow_destructive = policy.allow_destructive
    target.lab_actions = policy.lab_actions
    target.non_member_host = policy.non_member_host
    target.vm_policy = vm_policy
    target.allow_vm = vm_policy.allows
    target.transport = f"twin of {policy.target_spec} (in-process, simulated time)"
    return target
