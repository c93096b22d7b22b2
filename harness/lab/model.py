"""LabCluster: the lab's state on its own clock, changed only by scheduled, timestamped rules.

Refusal codes (Win32, raised as LabOperationError and changing nothing):
  5005 ERROR_HOST_NODE_NOT_AVAILABLE  no node can take the role (no Best Possible Node)
  5013 ERROR_GROUP_NOT_FOUND          unknown VM / role
  5023 ERROR_INVALID_STATE            VM already moving; node busy; a rule switched off refuses
  5042 ERROR_CLUSTER_NODE_NOT_FOUND   target not a cluster member (QM-11)
  5050 ERROR_CLUSTER_NODE_DOWN        target (or drained node) is Down
  5070 ERROR_CLUSTER_NODE_PAUSED      target is Paused
  5071 ERROR_NODE_CANT_HOST_RESOURCE  target is not a possible owner of the VM or its disk
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from harness.domain import events
from harness.domain.events import EventId
from harness.errors import LabOperationError
from harness.lab import paths, vmconfig
from harness.lab.clock import LabClock
from harness.lab.rules import RULE_IDS
from harness.lab.state import Event, LinkEntry, NodeState, VMState
from harness.lab.storage import StorageRef, resolve
from harness.lab.topology import Topology

HYPER_V_SUBFOLDER = "Microsoft\\Windows\\Hyper-V"
LINKS_SUBFOLDER = HYPER_V_SUBFOLDER + "\\Virtual Machines"
CACHE_SUBFOLDER = HYPER_V_SUBFOLDER + "\\Virtual Machines Cache"
# Size of a per-VM cache entry <VMId>.vmcx (docs/windows-fidelity.md, "Registration").
CACHE_ENTRY_BYTES = 24576


# Clock readings a paced lab grants each phase of a transition (a save, a restore): a poll of
# the audit reads it about three times (cluster status, the owner's Get-VM, the source's
# details), so 12 readings are about 4 polls in the shortest phase.
READINGS_PER_WINDOW = 12
# The wait before time sync corrects a restored guest: the audit reads the guest clock inside
# it after the move's whole aftermath (a dozen probes), so it is paced finer.
READINGS_BEFORE_TIME_SYNC = 60
# Lab seconds after a move's last phase still paced, so that its end is seen promptly.
SETTLE_TAIL_S = 2.0


class LabCluster:
    """A simulated failover cluster; every public read or action first applies due changes."""

    def __init__(self, topology: Topology, clock: LabClock) -> None:
        self.topology = topology
        self.clock = clock
        self.lock = threading.RLock()
        self.started = clock.now()
        self._queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._seq = itertools.count()
        self.nodes: dict[str, NodeState] = {}
        for n in topology.nodes:
            self.nodes[n.name.lower()] = NodeState(n.name, True, n.state, n.program_data)
        for m in topology.non_members:
            self.nodes[m.name.lower()] = NodeState(m.name, False, "Up", m.program_data)
        self.disk_owner = {d.name: d.owner for d in topology.cluster_disks}
        # Owners of the cluster core group and of the CSVs when something moved them (None: the
        # first member that is not Down, as the lab places them).
        self.core_owner: str | None = None
        self.csv_owner: str | None = None
        self.vms: dict[str, VMState] = {}
        for spec in topology.vms:
            boot = spec.guest_boot_time or (self.started - timedelta(days=3))
            vm = VMState(
                spec=spec,
                state=spec.state,
                owner=self.node(spec.owner).name,
                folder=spec.folder,
                vm_resource_id=spec.vm_resource_id,
                config_resource_id=spec.config_resource_id,
                macs=spec.mac_addresses,
                guest_boot=boot,
                clock_offset_s=spec.clock_offset_s,
                time_sync_enabled=spec.time_sync_enabled,
                kvp_host=spec.owner,
                kvp_fqdn_host=spec.owner,
            )
            self.vms[spec.name] = vm
            vm.config = vmconfig.initial_config(vm)
            vm.resource_private = vmconfig.initial_private(vm)
            running = spec.state in ("Running", "Paused")
            vm.group_state = "Online" if running else "Offline"
            vm.resource_state = "Online" if running else "Offline"
            vm.heartbeat_ok = spec.state == "Running"
            self.register(vm, vm.owner)
            if spec.state == "Saved":
                from harness.lab.moves import saved_state_for

                vm.saved = saved_state_for(vm, vm.folder, self.started, 1.0)
                vm.saved.finish(self.started)
        from harness.lab.pasthistory import seed_history, seed_registrations

        seed_history(self)
        seed_registrations(self)

    # --- lookups -------------------------------------------------------------------------
    def node(self, name: str) -> NodeState:
        """A member or non-member host by name (case-insensitive); KeyError if unknown."""
        return self.nodes[name.lower()]

    def members(self) -> list[NodeState]:
        """The cluster members in topology order."""
        return [n for n in self.nodes.values() if n.member]

    def vm(self, name: str) -> VMState:
        """A VM by name (exact, then case-insensitive); LabOperationError 5013 if unknown."""
        found = self.vms.get(name) or next(
            (v for v in self.vms.values() if v.name.lower() == name.lower()), None
        )
        if found is None:
            raise LabOperationError(5013, f"The cluster group '{name}' could not be found")
        return found

    def cluster_disk_of(self, vm: VMState) -> str | None:
        """The name of the Cluster Disk holding the VM's files, if any."""
        ref = resolve(self.topology, vm.spec.storage, vm.owner)
        return ref.name if ref is not None and ref.kind == "cluster_disk" else None

    def storage_of(self, path: str, node: str | None) -> StorageRef | None:
        """The storage a path lies on as seen from node (includes rule-made local folders)."""
        extra = [r for n in self.nodes.values() for r in n.extra_local]
        return resolve(self.topology, path, node, extra)

    def registration_root(self, node: NodeState, vm: VMState | None = None) -> str:
        """The ProgramData `node` registers VMs under: its own unless the QM-22 rule is off."""
        if vm is not None and not self.rule_on("links_under_program_data", vm, (node.name,)):
            return "C:\\ProgramData"
        return node.program_data

    def links_folder(self, node: NodeState, vm: VMState | None = None) -> str:
        """Where `node` writes 5.0 links."""
        return paths.join(self.registration_root(node, vm), LINKS_SUBFOLDER)

    def cache_folder(self, node: NodeState, vm: VMState | None = None) -> str:
        """Where `node` keeps its per-VM cache entries (version 6.2+)."""
        return paths.join(self.registration_root(node, vm), CACHE_SUBFOLDER)

    # --- rules ---------------------------------------------------------------------------
    def _matching_off(self, rule_id: str, vm: VMState | str | None, nodes: Iterable[str]) -> Any:
        if rule_id not in RULE_IDS:
            raise KeyError(rule_id)
        vm_name = vm.name if isinstance(vm, VMState) else vm
        lowered = {n.lower() for n in nodes}
        for entry in self.topology.rules_off:
            if entry.rule != rule_id:
                continue
            if entry.vm is not None and entry.vm != vm_name:
                continue
            if entry.node is not None and entry.node.lower() not in lowered:
                continue
            return entry
        return None

    def rule_on(
        self, rule_id: str, vm: VMState | str | None = None, nodes: Iterable[str] = ()
    ) -> bool:
        """False when rules_off names the rule for the cluster, this VM or one of the nodes."""
        return self._matching_off(rule_id, vm, nodes) is None

    def rule_params(
        self, rule_id: str, vm: VMState | str | None = None, nodes: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The params of the rules_off entry that switches the rule off here ({} if none)."""
        entry = self._matching_off(rule_id, vm, nodes)
        return dict(entry.params) if entry is not None else {}

    # --- the clock -----------------------------------------------------------------------
    def schedule(self, at: datetime, change: Callable[[datetime], None]) -> None:
        """Apply `change(at)` once the lab clock reaches `at`."""
        heapq.heappush(self._queue, (at, next(self._seq), change))

    def apply_due(self) -> datetime:
        """Apply every scheduled change that is due, in time order; returns the lab time."""
        now = self.clock.now()
        while self._queue and self._queue[0][0] <= now:
            at, _, change = heapq.heappop(self._queue)
            change(at)
        return now

    def pace(self, *phases: tuple[datetime, datetime], readings: int = READINGS_PER_WINDOW) -> None:
        """Phases of a transition now in flight (a save, a transfer, a restore: since, until):
        a paced clock lets each reading advance at most phase / `readings` in each."""
        pace = getattr(self.clock, "pace", None)
        if pace is None:
            return
        for since, until in phases:
            length = (until - since).total_seconds()
            if length > 0:
                pace(length / readings, since, until)
        ends = [until for _, until in phases]
        if ends and readings == READINGS_PER_WINDOW:
            # The end of a move is judged too (an Off VM's move time against its bound): the
            # first poll after it must come soon, so a short tail after the last phase is paced.
            end = max(ends)
            pace(SETTLE_TAIL_S / READINGS_PER_WINDOW, end, end + timedelta(seconds=SETTLE_TAIL_S))

    @contextmanager
    def session(self) -> Iterator[datetime]:
        """Hold the lock with all due changes applied; yields the lab time."""
        with self.lock:
            yield self.apply_due()

    def next_change(self) -> datetime | None:
        """When the next scheduled change is due (None when idle)."""
        with self.lock:
            return self._queue[0][0] if self._queue else None

    def settle(self, limit_s: float = 86400.0) -> datetime:
        """Sleep (on the lab clock) until nothing is scheduled any more; returns the lab time."""
        deadline = self.clock.now() + timedelta(seconds=limit_s)
        while (due := self.next_change()) is not None and due <= deadline:
            self.clock.sleep_until(due)
            with self.session():
                pass
        with self.session() as now:
            return now

    # --- primitive state changes used by the rules ------------------------------------
    def log(self, node: str, event_id: EventId, at: datetime, *props: str) -> None:
        """Write an event to its channel on a node, with Windows' message, on the lab clock."""
        entry = events.spec(event_id)
        text = events.message(event_id, props)
        self.node(node).events.append(
            Event(node, entry.channel.value, entry.provider, int(event_id), at, text, props)
        )

    def register(self, vm: VMState, node_name: str) -> None:
        """Register the VM on a node: Get-VM there lists it; a symbolic link for 5.0, a
        per-VM cache entry for 6.2+ (the host-wide data.vmcx is always there)."""
        node = self.node(node_name)
        node.registered.add(vm.vm_id)
        if vm.spec.config_version != "5.0":
            vid = vm.vm_id.upper()
            entries = ((f"{vid}.vmcx", CACHE_ENTRY_BYTES), (vid, None))
            node.cache[vm.vm_id] = (self.cache_folder(node, vm), entries)
        if vm.spec.config_version == "5.0":
            config = paths.join(vm.folder, "Virtual Machines", f"{vm.vm_id.upper()}.xml")
            if not self.rule_on("link_points_at_config", vm, (node.name,)):
                params = self.rule_params("link_points_at_config", vm, (node.name,))
                config = params.get("target") or paths.join(
                    paths.drive(node.program_data), "VMs-old", vm.name, f"{vm.vm_id.upper()}.xml"
                )
            folder = self.links_folder(node, vm)
            node.links[vm.vm_id] = LinkEntry(
                folder, f"{vm.vm_id.upper()}.xml", "SymbolicLink", config
            )

    def unregister(self, vm: VMState, node_name: str) -> None:
        """Remove the VM's registration (and 5.0 link) from a node."""
        node = self.node(node_name)
        node.registered.discard(vm.vm_id)
        node.links.pop(vm.vm_id, None)
        node.cache.pop(vm.vm_id, None)

    def count_network(self, source: str, target: str, size: int) -> None:
        """Bytes sent from source to target over the cluster network."""
        self.node(source).sent_bytes += size
        self.node(target).received_bytes += size

    def eventual_owner(self, vm: VMState) -> str:
        """Where the VM is or is going."""
        return vm.moving_to or vm.owner

    # --- public actions (thin wrappers over harness.lab.moves) ---------------------------
    def responder(self) -> Any:
        """A LabResponder answering probes from this model (what LabDriver talks to)."""
        from harness.lab.responder import LabResponder

        return LabResponder(self)

    def move_vms(
        self, vm_names: list[str], node: str | None = None, method: str = "vm_role"
    ) -> list[dict[str, Any]]:
        """Quick-migrate VMs (-Wait 0); returns the at-once answer per VM."""
        from harness.lab.request import request_moves

        return request_moves(self, vm_names, node, method)

    def drain_node(self, node: str) -> dict[str, Any]:
        """Suspend-ClusterNode -Drain."""
        from harness.lab.nodeops import drain

        return drain(self, node)

    def resume_node(self, node: str) -> dict[str, Any]:
        """Resume-ClusterNode (no failback)."""
        from harness.lab.nodeops import resume

        return resume(self, node)

    def crash_node(self, node: str) -> None:
        """Lab only: power loss of a node; its VMs fail over and start cold."""
        from harness.lab.nodeops import crash

        crash(self, node)

    def power_on_node(self, node: str) -> None:
        """Lab only: a crashed node comes back Up (no failback)."""
        from harness.lab.nodeops import power_on

        power_on(self, node)

    def set_time_sync(self, vm_name: str, enabled: bool) -> None:
        """Lab only: enable or disable the VM's Time Synchronization integration service."""
        from harness.lab.moves import schedule_time_sync

        with self.session() as now:
            vm = self.vm(vm_name)
            vm.time_sync_enabled = enabled
            if enabled:
                schedule_time_sync(self, vm, now)

    def ground_truth(self, vm_name: str) -> list[Any]:
        """Every move/failover of the VM so far (MoveRecord), oldest first."""
        with self.session():
            return list(self.vm(vm_name).history)
