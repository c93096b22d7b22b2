"""The claims vocabulary: claim ids, short titles and the core set (one place for all of them)."""

from __future__ import annotations

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
