"""The lab side of the probe seam: answers every probe of docs/contracts.md from the model.

Failures a real host would report, as LabOperationError codes:
  11001 WSAHOST_NOT_FOUND           unknown host name
  1722  RPC_S_SERVER_UNAVAILABLE    the host is Down (powered off / crashed)
  1060  ERROR_SERVICE_DOES_NOT_EXIST cluster probe on a host without the Cluster service
  21    ERROR_NOT_READY             PowerShell Direct to a guest that is elsewhere or not running
Refusals of actions come from the model (see harness/lab/model.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from harness.errors import LabOperationError
from harness.lab import views
from harness.lab.facts import CAPTURE_PROBES, capture_answer
from harness.lab.files import path_info
from harness.lab.model import LabCluster
from harness.lab.session import CONSTRAINED_MESSAGE, ConstrainedLanguageError, LabSession
from harness.lab.state import Event, NodeState, iso
from harness.lab.topology import derived_guid

READ = {
    "host_info",
    "cluster_inventory",
    "vm_details",
    "vm_registration",
    "vm_resources",
    "guest_clock",
    "guest_kvp",
    "cluster_events",
    "path_info",
    "network_counters",
    "move_status",
} | CAPTURE_PROBES
ACTION = {"move_vm", "drain_node", "resume_node"}
LAB_ONLY = {"lab_crash_node", "lab_power_on_node", "lab_set_time_sync"}
CLUSTER_PROBES = {"cluster_inventory", "vm_resources", "move_status"} | ACTION
CLUSTER_PROBES |= {"capture_cluster_parameters"}
BACKGROUND_BPS = 2048  # cluster heartbeats etc. between nodes, per node


def _param(params: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = params.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"probe parameter {key!r} missing or of the wrong type: {value!r}")
    return value


class LabResponder:
    """Answers probe `name` with `params` as host `node` of the lab would."""

    def __init__(self, cluster: LabCluster) -> None:
        self.cluster = cluster

    def answer(
        self,
        node: str,
        probe: str,
        params: dict[str, Any] | None = None,
        session: LabSession | None = None,
    ) -> dict[str, Any]:
        """The probe document (with `node` and `host_utc`), or LabOperationError / ValueError.

        `session`: who runs the probe (a transport that authenticated it says so); the
        topology's session otherwise. A read is answered at one instant and stamped with it.
        """
        params = dict(params or {})
        if probe not in READ | ACTION | LAB_ONLY:
            raise ValueError(f"unknown probe {probe!r}")
        c = self.cluster
        session = session or c.topology.session
        host = c.nodes.get(node.lower())
        if host is None:
            raise LabOperationError(11001, f"No such host is known: {node}")
        if not session.full_language and probe not in LAB_ONLY:
            # The bootstrap refuses ConstrainedLanguage (harness/probes/lib/bootstrap.ps1).
            raise ConstrainedLanguageError(
                CONSTRAINED_MESSAGE.format(mode=session.language_mode, node=host.name)
            )
        if probe in ACTION | LAB_ONLY:
            body = self._act(host, probe, params)
            with c.session() as now:
                return {"node": host.name, "host_utc": iso(now), **body}
        with c.session() as now:
            self._reachable(host, probe)
            body = self._read(host, probe, params, now, session)
            return {"node": host.name, "host_utc": iso(now), **body}

    def _reachable(self, host: NodeState, probe: str) -> None:
        if host.state == "Down":
            raise LabOperationError(1722, f"The RPC server is unavailable: {host.name} is down")
        if probe in CLUSTER_PROBES and not host.member:
            raise LabOperationError(
                1060, f"The Cluster service is not installed on {host.name}: not a cluster member"
            )

    def _act(self, host: NodeState, probe: str, params: dict[str, Any]) -> dict[str, Any]:
        c = self.cluster
        if probe in LAB_ONLY:  # the lab controller: works whatever the state of `host`
            if probe == "lab_set_time_sync":
                name = _param(params, "vm_name", str)
                enabled = _param(params, "enabled", bool)
                c.set_time_sync(name, enabled)
                return {"lab_only": True, "vm": c.vm(name).name, "enabled": enabled}
            target = _param(params, "node", str)
            if probe == "lab_crash_node":
                c.crash_node(target)
                return {"lab_only": True, "crashed": c.node(target).name}
            c.power_on_node(target)
            return {"lab_only": True, "powered_on": c.node(target).name}
        with c.session():
            self._reachable(host, probe)
        if probe == "move_vm":
            names = _param(params, "vm_names", list)
            if not all(isinstance(n, str) for n in names):
                raise ValueError("probe parameter 'vm_names' must be a list of strings")
            target = params.get("node")
            if target is not None and not isinstance(target, str):
                raise ValueError(f"probe parameter 'node' must be a string or null: {target!r}")
            method = params.get("method") or "vm_role"
            with c.session() as started:
                requested_utc = iso(started)  # before the requests, as the probe stamps it
            return {"requested_utc": requested_utc, "requested": c.move_vms(names, target, method)}
        if probe == "drain_node":
            return c.drain_node(_param(params, "node", str))
        return c.resume_node(_param(params, "node", str))

    def _read(
        self,
        host: NodeState,
        probe: str,
        params: dict[str, Any],
        now: datetime,
        session: LabSession,
    ) -> dict[str, Any]:
        if probe in CAPTURE_PROBES:
            return capture_answer(self.cluster, host, probe, params, now)
        readers: dict[str, Callable[[], dict[str, Any]]] = {
            "host_info": lambda: self._host_info(host),
            "cluster_inventory": lambda: self._inventory(),
            "vm_details": lambda: views.vm_details(
                self.cluster, host, _param(params, "vm_id", str), now, session
            ),
            "vm_registration": lambda: views.vm_registration(
                self.cluster, host, _param(params, "vm_id", str)
            ),
            "vm_resources": lambda: views.vm_resources(
                self.cluster, host, _param(params, "vm_id", str)
            ),
            "guest_clock": lambda: views.guest_clock(
                self.cluster, host, _param(params, "vm_name", str), now
            ),
            "guest_kvp": lambda: views.guest_kvp(
                self.cluster, host, _param(params, "vm_name", str)
            ),
            "cluster_events": lambda: self._events(host, params),
            "path_info": lambda: path_info(
                self.cluster, host, _param(params, "path", str), session
            ),
            "network_counters": lambda: self._counters(host, now),
            "move_status": lambda: self._move_status(host, _param(params, "vm_names", list)),
        }
        return readers[probe]()

    def _host_info(self, host: NodeState) -> dict[str, Any]:
        return {
            "os_build": "20348",
            "os_caption": "Microsoft Windows Server 2022 Datacenter",
            "program_data": host.program_data,
            "modules": {"failover_clusters": host.member, "hyper_v": True},
            "cluster_name": self.cluster.topology.cluster.name if host.member else None,
            "powershell_version": "5.1.20348.2849",
        }

    def _inventory(self) -> dict[str, Any]:
        c = self.cluster
        t = c.topology
        members = c.members()
        first_up = next((n.name for n in members if n.state != "Down"), members[0].name)
        users = {c.cluster_disk_of(v): v.name for v in c.vms.values()}
        disks = [
            {
                "name": d.name,
                "id": derived_guid(t.cluster.name, "disk", d.name),
                "owner_node": c.disk_owner[d.name],
                "owner_group": users.get(d.name, "Available Storage"),
                "possible_owners": list(d.possible_owners),
                "state": "Online",
                "mount_points": [d.mount],
            }
            for d in t.cluster_disks
        ]
        disks += [
            {
                "name": f"Pass-through Disk {v.name}",
                "id": derived_guid(t.cluster.name, "passthrough", v.vm_id),
                "owner_node": v.owner,
                "owner_group": v.name,
                "possible_owners": list(v.spec.possible_owners) or [n.name for n in members],
                "state": "Online",
                "mount_points": [],
            }
            for v in c.vms.values()
            if v.spec.passthrough_disk
        ]
        return {
            "cluster": {
                "name": t.cluster.name,
                "move_type_threshold": t.cluster.move_type_threshold,
                # Windows Server 2019+ defaults (docs/windows-fidelity.md, "Settle window").
                "timers": {
                    "same_subnet_delay_ms": 1000,
                    "same_subnet_threshold": 20,
                    "cross_subnet_delay_ms": 1000,
                    "cross_subnet_threshold": 20,
                    "vm_looks_alive_ms": 5000,
                },
            },
            "nodes": [
                {"name": n.name, "id": str(i + 1), "state": n.state, "drain_status": n.drain_status}
                for i, n in enumerate(members)
            ],
            "csvs": [
                {
                    "name": v.name,
                    "id": derived_guid(t.cluster.name, "csv", v.name),
                    "friendly_volume_name": v.path,
                    "owner_node": c.csv_owner or first_up,
                    "state": "Online",
                    "redirected": v.redirected,
                }
                for v in t.csvs
            ],
            "cluster_disks": disks,
            "vm_groups": [
                {
                    "name": v.name,
                    "vm_name": v.name,
                    "vm_id": v.vm_id,
                    "owner_node": v.owner,
                    "state": v.group_state,
                    "priority": v.spec.priority,
                    "preferred_owners": list(v.spec.preferred_owners),
                    "possible_owners": list(v.spec.possible_owners) or [n.name for n in members],
                }
                for v in c.vms.values()
            ],
            "other_groups": [
                {
                    "name": "Cluster Group",
                    "owner_node": c.core_owner or first_up,
                    "state": "Online",
                },
                {"name": "Available Storage", "owner_node": first_up, "state": "Online"},
            ],
        }

    def _events(self, host: NodeState, params: dict[str, Any]) -> dict[str, Any]:
        """Get-WinEvent -FilterHashtable @{LogName; ProviderName; Id; StartTime} per query."""
        since_text = params.get("since_utc")
        since = None
        if since_text:
            from harness.lab.topology import parse_utc

            since = parse_utc(str(since_text))
        wanted: set[tuple[str, str, int]] = set()
        for query in _param(params, "queries", list):
            if not isinstance(query, dict) or not query.get("log") or not query.get("ids"):
                raise ValueError(f"cluster_events query needs a log and ids: {query!r}")
            provider = str(query.get("provider") or "").casefold()
            wanted |= {(str(query["log"]).casefold(), provider, int(i)) for i in query["ids"]}

        def asked(e: Event) -> bool:
            log = e.log.casefold()
            return (log, e.provider.casefold(), e.id) in wanted or (log, "", e.id) in wanted

        events = sorted(host.events, key=lambda e: e.time)
        extra = [f"0x{i:x}" for i in range(self.cluster.topology.session.event_extra_properties)]
        return {
            "events": [
                {
                    "log": e.log,
                    "provider": e.provider,
                    "id": e.id,
                    "time_utc": iso(e.time),
                    "message": e.message,
                    # Records may carry more properties than their message template uses.
                    "properties": list(e.properties) + extra,
                }
                for e in events
                if (since is None or e.time >= since) and asked(e)
            ]
        }

    def _counters(self, host: NodeState, now: datetime) -> dict[str, Any]:
        c = self.cluster
        index = list(c.nodes).index(host.name.lower())
        background = int((now - c.started) / timedelta(seconds=1) * BACKGROUND_BPS)
        base = 100_000_000 * (index + 1)
        return {
            "adapters": [
                {
                    "name": "Cluster",
                    "sent_bytes": base + host.sent_bytes + background,
                    "received_bytes": base + host.received_bytes + background,
                }
            ]
        }

    def _move_status(self, host: NodeState, names: list[Any]) -> dict[str, Any]:
        c = self.cluster
        out = []
        for name in names:
            vm = c.vm(str(name))
            # Get-VM lists the VMs registered on this node only: any other VM has no state here.
            local = vm.vm_id in host.registered
            out.append(
                {
                    "vm": vm.name,
                    "group_state": vm.group_state,
                    "owner_node": vm.owner,
                    "vm_state": vm.state if local else None,
                    "resource_state": vm.resource_state,
                }
            )
        return {"vms": out}
