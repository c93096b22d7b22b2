"""What must hold after any quick migration, judged from a VM's snapshots before and after.

Every move the harness causes (the scenario's own, setup moves, restore moves, second legs,
multi-VM requests) is judged by `violations`; `judge` turns them into a failure that names the
move that caused them, so a defect shown by a setup or restore move is never silently passed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.audit import collateral, fingerprint
from harness.audit.assertions import broken, check
from harness.audit.savedstate import written_files
from harness.domain.claims import claims_of
from harness.domain.storage import is_under

if TYPE_CHECKING:
    from harness.audit.cluster import MoveSample
    from harness.audit.moves import Snapshot


@dataclass(frozen=True)
class MoveCause:
    """Why the harness moved the VM: the scenario's own move, a setup or a restore move."""

    # "scenario": judged by the scenario's own Then step (fails its own claim); "observed": a
    # scenario's own move judged again at teardown, and "setup", "restore", "leg", "drain",
    # "recover": each fails the claims its broken invariants back.
    kind: str
    scenario: str = ""
    detail: str = ""

    def __str__(self) -> str:
        where = f" of scenario {self.scenario!r}" if self.scenario else ""
        return f"{self.kind} move{where}" + (f" ({self.detail})" if self.detail else "")


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


# The owner a move must end on: one node, any of several (a drain or a move without a node
# picks among the Up nodes), or None when the caller does not say.
ExpectedOwner = str | Collection[str] | None


def _owner_ok(owner: str, expected: ExpectedOwner) -> bool:
    if expected is None:
        return True
    if isinstance(expected, str):
        return _same(owner, expected)
    return any(_same(owner, n) for n in expected)


def _identity(resources: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """GUID, name and type of each resource, and how this node's registry reads it."""
    return sorted(
        (
            r["id"],
            r["name"],
            r["resource_type"],
            r["registry"]["present"],
            r["registry"]["name"],
            r["registry"]["vm_id"],
        )
        for r in resources
    )


def violations(
    vm_id: str,
    before: Snapshot,
    after: Snapshot,
    expected_owner: ExpectedOwner,
    moving: Collection[str] | None = None,
) -> dict[str, Any]:
    """Each invariant that does not hold, with what was observed (empty = the move was clean).

    `moving`: the groups the action moves (this VM's and any other of its request); every other
    group, CSV, disk and node must be as it was (collateral). None: collateral not judged (a
    drain or a crash, whose caller judges it with the node it acts on).
    """
    found: dict[str, Any] = {}
    owner = after.owner
    if not _owner_ok(owner, expected_owner):
        expected = (
            expected_owner if isinstance(expected_owner, str) else sorted(expected_owner or ())
        )
        found["owner"] = {"expected": expected, "observed": owner}
    registered = sorted(n for n, r in after.registrations.items() if r.registered)
    if len(registered) != 1 or not _same(registered[0], owner):
        found["registration"] = {"owner": owner, "registered_on": registered}
    b, a = before.details, after.details
    if b is not None and a is None:
        found["visible"] = {"owner": owner, "details_after": None}
    if b is not None and a is not None:
        if b.paths != a.paths or b.disk_paths != a.disk_paths:
            found["files"] = {
                "before": {**b.paths, "disks": list(b.disk_paths)},
                "after": {**a.paths, "disks": list(a.disk_paths)},
            }
        if b.state != a.state:
            found["state"] = {"before": b.state, "after": a.state}
        if b.id != a.id or b.macs != a.macs:
            found["guest identity"] = {"before": [b.id, *b.macs], "after": [a.id, *a.macs]}
        found.update(fingerprint.vm_changes(b.config, a.config))
        if a.config_version == "5.0" and owner in after.registrations:
            name = f"{vm_id}.xml".casefold()
            links = [x for x in after.registrations[owner].links if x[0].casefold() == name]
            target = (links[0][2] or "") if links else ""
            config = a.paths.get("configuration_location") or ""
            if not links or not target.casefold().endswith(name) or not is_under(target, config):
                found["link"] = {
                    "links": [list(x) for x in after.registrations[owner].links],
                    "configuration_location": config,
                }
    # Per node: the move must not change what that node's registry says about the resources.
    changed = [
        n
        for n, r in after.resources.items()
        if n in before.resources and _identity(r) != _identity(before.resources[n])
    ]
    if changed:
        found["resource identity"] = {
            "changed_on": changed,
            "before": {n: _identity(r) for n, r in before.resources.items()},
            "after": {n: _identity(r) for n, r in after.resources.items()},
        }
    values = fingerprint.cluster_changes(before.resources, after.resources)
    if values:
        found["resource values"] = values
    if moving is not None:
        found.update(collateral.changes(before.inventory, after.inventory, moving))
    b_clock, a_clock = before.clock, after.clock
    if b_clock and a_clock and b_clock.guest_last_boot != a_clock.guest_last_boot:
        found["no reboot"] = {
            "last_boot_before": b_clock.guest_last_boot.isoformat(),
            "last_boot_after": a_clock.guest_last_boot.isoformat(),
        }
    return found


def saved_state_local(
    before: Snapshot, samples: Iterable[MoveSample], source: str, requested: datetime | None
) -> dict[str, Any]:
    """QM-02 on any move: saved-state files the save was *seen* writing on the source that lie
    on storage the cluster does not report as shared ({} when none was seen: a move not watched
    closely enough proves nothing either way; the QM-02 scenarios ask for the observation)."""
    d = before.details
    if d is None or d.state != "Running":
        return {}
    written = written_files(d.saved_state, samples, source, requested)
    own = [d.path, *(p for p in d.paths.values() if p)]
    shared = before.inventory.shared_storage(before.inventory.group_of(d.name).name, own)
    local = [f.path for f in written if shared.classify(f.path) == "local"]
    return {"saved state": {"local": local, "written": [f.path for f in written]}} if local else {}


def judge(
    vm_name: str,
    vm_id: str,
    before: Snapshot,
    after: Snapshot,
    expected_owner: ExpectedOwner,
    cause: MoveCause,
    found: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fail when an invariant is broken; returns the findings (empty: the move was clean).

    The scenario's own move fails its own claim (AssertionError); any other move raises
    InvariantBroken carrying the invariants' claims. `found`: the findings already made for this
    move (`MoveOutcome.invariants`, which include what only the move's polls show); else they are
    worked out from the two snapshots.
    """
    __tracebackhide__ = True
    if found is None:
        found = violations(vm_id, before, after, expected_owner)
    if not found:
        return found
    message = (
        f"the {cause} of VM {vm_name!r} ({before.owner} -> {after.owner}) broke what every "
        f"quick migration must keep: {', '.join(found)}"
    )
    evidence = {k.replace(" ", "_"): v for k, v in found.items()}
    if cause.kind == "scenario":
        check(False, message, **evidence)
    broken(claims_of(found), message, **evidence)
