"""The claims vocabulary: ids, titles, the core set, the claim each move invariant backs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLAIMS: list[str] = [f"QM-{n:02d}" for n in range(1, 23)]
CORE_CLAIMS = frozenset({"QM-02", "QM-03", "QM-13", "QM-15"})
# Short titles: the Allure story label is "<id> <title>"; the claim table prints them.
CLAIM_TITLES: dict[str, str] = {
    "QM-01": "Saved state first",
    "QM-02": "Saved state on shared storage",
    "QM-03": "Single link location",
    "QM-04": "Files do not move",
    "QM-05": "Cluster Disk ownership follows",
    "QM-06": "State is restored",
    "QM-07": "Any state can be moved",
    "QM-08": "A VM that is off moves almost instantly",
    "QM-09": "Downtime depends on memory and disk, not network",
    "QM-10": "Downtime is noticeable",
    "QM-11": "Same cluster only",
    "QM-12": "Shared storage reachable by both",
    "QM-13": "Registry resource stability",
    "QM-14": "The guest does not know it moved",
    "QM-15": "Time drift when sync is off",
    "QM-16": "Best Possible Node",
    "QM-17": "Several VMs at once",
    "QM-18": "Drain quick-migrates low-priority VMs",
    "QM-19": "Host crash = power loss",
    "QM-20": "PowerShell interface",
    "QM-21": "Works where live migration fails",
    "QM-22": "Link root from %ProgramData%",
}

# The claim each invariant backs: a violation on a setup or restore move is reported against
# these claims (the scenario's own claim was not what broke).
CLAIM_OF: dict[str, str] = {
    "owner": "QM-07",
    "registration": "QM-03",
    "visible": "QM-03",
    "link": "QM-03",
    "files": "QM-04",
    "state": "QM-06",
    "no reboot": "QM-06",
    "resource identity": "QM-13",
    "guest identity": "QM-14",
    "saved state": "QM-02",
    # The whole-VM fingerprint (harness/audit/fingerprint.py).
    "configuration": "QM-14",
    "checkpoints": "QM-04",
    "resource values": "QM-13",
    # Collateral (harness/audit/collateral.py): what else the move changed.
    "other roles": "QM-17",
    "storage owners": "QM-05",
    "node states": "QM-18",
    # Every quick request shows the save (harness/audit/moves.py: save_missing).
    "save": "QM-01",
    # After the settle window (harness/audit/settle.py).
    "heartbeat": "QM-06",
    "guest reachable": "QM-06",
}


def claims_of(found: Mapping[str, Any]) -> tuple[str, ...]:
    """The claims the broken invariants in `found` back (sorted)."""
    return tuple(sorted({CLAIM_OF[k] for k in found}))
