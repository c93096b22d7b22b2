"""The VMs of a target as the audit sees them at the start, and how scenarios pick them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.audit.cluster import Cluster
from harness.audit.objects import Inventory, VmDetails
from harness.domain.storage import StorageKind

STORAGE_ALIASES: dict[str, StorageKind] = {
    "csv": "CSV",
    "cluster disk": "Cluster Disk",
    "smb 3": "SMB 3",
    "smb": "SMB 3",
    "local": "local",
}


def storage_kind(text: str) -> StorageKind:
    """Parse a storage kind as written in a feature file."""
    try:
        return STORAGE_ALIASES[text.strip().casefold()]
    except KeyError:
        raise ValueError(f"unknown storage kind {text!r}") from None


@dataclass(frozen=True)
class VmFacts:
    """Static facts about one VM, read once at the start of the run."""

    name: str
    id: str
    group: str
    owner: str
    state: str
    memory_bytes: int
    config_version: str
    path: str
    storage: StorageKind
    passthrough: bool
    time_sync_enabled: bool | None
    time_sync_status: str | None
    priority: int
    preferred_owners: tuple[str, ...]
    possible_owners: tuple[str, ...]

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / 2**30


class Catalog:
    """Every clustered VM of the target with its facts; only allowed VMs are ever picked."""

    def __init__(
        self,
        vms: Iterable[VmFacts],
        allowed: Callable[[str], bool],
        cannot_look: Iterable[str] = (),
    ) -> None:
        self.vms = sorted(vms, key=lambda v: v.name)
        self.allowed = allowed
        # What this session cannot look at, found before the first move (cause and fix).
        self.cannot_look = tuple(cannot_look)
        self._turns: dict[str, int] = {}

    @classmethod
    def read(cls, cluster: Cluster, allowed: Callable[[str], bool]) -> Catalog:
        inventory = cluster.inventory()
        facts = []
        refused: list[str] = []
        for group in inventory.groups:
            details = cluster.vm_details(group.vm_id, group.owner_node)
            if details is None:
                continue
            facts.append(cls._facts(inventory, group.name, details))
            if details.saved_state_listing == "denied" and allowed(details.name):
                refused.append(f"{details.name} ({details.path}, on {group.owner_node})")
        notices = []
        if refused:
            notices.append(
                "this session cannot list the saved-state folders of "
                + ", ".join(refused)
                + ": the share refuses a session without network credentials (the second hop; "
                "Hyper-V itself reaches it as the computer account). Saved state on shared "
                "storage (QM-02) and the target reaching the storage (QM-12) will be BROKEN for "
                "these VMs. Fix: CredSSP for the target, resource-based Kerberos constrained "
                "delegation from the nodes to the file server, or an audit account with rights "
                "on the share"
            )
        return cls(facts, allowed, notices)

    @staticmethod
    def _facts(inventory: Inventory, group_name: str, details: VmDetails) -> VmFacts:
        group = next(g for g in inventory.groups if g.name == group_name)
        return VmFacts(
            name=details.name,
            id=details.id,
            group=group.name,
            owner=group.owner_node,
            state=details.state,
            memory_bytes=details.memory_bytes,
            config_version=details.config_version,
            path=details.path,
            storage=inventory.shared_storage(group.name, [details.path]).classify(details.path),
            passthrough=details.passthrough,
            time_sync_enabled=details.time_sync_enabled,
            time_sync_status=details.time_sync_status,
            priority=group.priority,
            preferred_owners=group.preferred_owners,
            possible_owners=group.possible_owners,
        )

    def pick(self, *conditions: Callable[[VmFacts], bool]) -> VmFacts | None:
        """The first allowed VM (by name) meeting every condition, or None."""
        for vm in self.vms:
            if self.allowed(vm.name) and all(cond(vm) for cond in conditions):
                return vm
        return None

    def rotate(self, key: str, *conditions: Callable[[VmFacts], bool]) -> VmFacts | None:
        """The next VM meeting every condition in extremes-first order (see `extremes_first`).

        Each call with the same `key` (one kind of Given step and its parameters) takes the
        next VM, so the scenarios that share a Given cover the largest and the smallest VM and
        every configuration version and storage kind present before any VM comes twice.
        """
        order = extremes_first(self.pick_all(*conditions))
        if not order:
            return None
        turn = self._turns.get(key, 0)
        self._turns[key] = turn + 1
        return order[turn % len(order)]

    def pick_all(self, *conditions: Callable[[VmFacts], bool]) -> list[VmFacts]:
        return [v for v in self.vms if self.allowed(v.name) and all(c(v) for c in conditions)]

    def get(self, name: str) -> VmFacts:
        for vm in self.vms:
            if vm.name == name:
                return vm
        raise KeyError(name)


def extremes_first(vms: list[VmFacts]) -> list[VmFacts]:
    """Largest memory, smallest memory, then one VM of each configuration version and storage
    kind not yet covered, then the rest by name (ties broken by name: deterministic)."""
    by_name = sorted(vms, key=lambda v: v.name)
    if not by_name:
        return []
    order: list[VmFacts] = []

    def take(vm: VmFacts | None) -> None:
        if vm is not None and vm not in order:
            order.append(vm)

    # max() and min() keep the first of equals, i.e. the first by name.
    take(max(by_name, key=lambda v: v.memory_bytes))
    take(min(by_name, key=lambda v: v.memory_bytes))
    for attr in ("config_version", "storage"):
        for value in sorted({getattr(v, attr) for v in by_name}):
            if not any(getattr(v, attr) == value for v in order):
                take(next(v for v in by_name if getattr(v, attr) == value))
    for vm in by_name:
        take(vm)
    return order


def plain(vm: VmFacts) -> bool:
    """A VM without special hardware (pass-through disks get scenarios of their own)."""
    return not vm.passthrough


def running(vm: VmFacts) -> bool:
    return vm.state == "Running"
