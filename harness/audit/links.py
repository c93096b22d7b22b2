"""Where a VM is registered: the nodes that register it and the link files naming its config."""

from __future__ import annotations

from typing import Any

from harness.audit.assertions import check
from harness.audit.moves import MoveOutcome
from harness.audit.objects import Registration
from harness.domain.storage import is_under

LINKS_SUBPATH = "Microsoft\\Windows\\Hyper-V\\Virtual Machines"


def registered(regs: dict[str, Registration]) -> list[str]:
    """The nodes that register the VM, by name."""
    return sorted(node for node, reg in regs.items() if reg.registered)


def judge_single(o: MoveOutcome) -> None:
    """The moved VM is registered on exactly one node, its new owner (QM-03)."""
    __tracebackhide__ = True
    assert o.after is not None
    where = registered(o.after.registrations)
    check(
        where == [o.final_owner],
        f"VM {o.vm.name!r} must be registered on exactly one node, its new owner",
        owner=o.final_owner,
        registered_on=where,
    )


def judge_target(o: MoveOutcome, evidence: Any) -> None:
    """A version 5.0 VM's link on its new owner points at its own configuration file; a later
    version has no link file (its per-VM cache entry goes to `evidence` only)."""
    __tracebackhide__ = True
    assert o.after is not None
    if o.vm.config_version != "5.0":
        # 6.2+ registers through Get-VM (judged above); its per-VM cache entry is evidence only.
        reg = o.after.registrations[o.final_owner]
        evidence.observe("after", f"cache entries on {o.final_owner}", list(reg.cache_entries))
        check(not reg.links, "a VM of version 6.2 or later has no link file", links=list(reg.links))
        return
    reg = o.after.registrations[o.final_owner]
    expected = f"{o.vm.id}.xml".casefold()
    links = [x for x in reg.links if x[0].casefold() == expected]
    check(
        bool(links) and links[0][1] == "SymbolicLink",
        "the new owner must hold a symbolic link <VMId>.xml",
        links=list(reg.links),
    )
    target = links[0][2] or ""
    config = o.after.details.paths["configuration_location"] if o.after.details else None
    check(
        target.casefold().endswith(expected) and config is not None and is_under(target, config),
        "the link must point at the VM's own .xml under its configuration location",
        link_target=target,
        configuration_location=config,
    )


def judge_folder(o: MoveOutcome, node: str, program_data: str) -> None:
    """The VM's link on `node` is in the Hyper-V links folder under `program_data` (QM-22)."""
    __tracebackhide__ = True
    assert o.after is not None
    reg = o.after.registrations[node]
    expected_folder = program_data.rstrip("\\") + "\\" + LINKS_SUBPATH
    name = f"{o.vm.id}.xml".casefold()
    check(
        reg.links_folder.casefold() == expected_folder.casefold()
        and any(x[0].casefold() == name for x in reg.links),
        "the link must be in the Hyper-V links folder under that node's own ProgramData",
        expected_folder=expected_folder,
        links_folder=reg.links_folder,
        links=list(reg.links),
    )
