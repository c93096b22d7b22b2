"""The saved-state files Hyper-V keeps for a VM, as a directory listing shows them at a time.

Windows keeps these files while the VM runs, not only after a save (docs/windows-fidelity.md):
version 8.0 and later a small runtime-state file `<VMId>.vmrs` and the guest-state file
`<VMId>.vmgs`; version 5.0 a `<VMId>.bin` already as large as the VM's memory and a `.vsv`. A save
shows as a change (the .vmrs grows to the memory size, write times move), so the lab models the
resident files and lets a save rewrite them; the audit must judge the change, not the presence.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from harness.lab import paths

if TYPE_CHECKING:
    from harness.lab.state import VMState

# Size of a running VM's .vmrs as recorded in the vm_details sample (tests/data/probes).
RESIDENT_VMRS_BYTES = 28 * 1024
GUEST_STATE_BYTES = 4 * 1024 * 1024
DEVICE_STATE_BYTES = 20 * 1024 * 1024
# States in which a version 5.0 VM holds its .bin/.vsv (none while Off).
_HELD = frozenset({"Running", "Paused", "Saving", "Saved", "Resuming", "Starting", "Stopping"})


def resident(vm: VMState) -> list[tuple[str, int]]:
    """(path, Length) of the files the VM keeps in its own folder whatever its state."""
    folder = paths.join(vm.folder, "Virtual Machines")
    vid = vm.vm_id.upper()
    if vm.spec.config_version == "5.0":
        if vm.state not in _HELD:
            return []
        return [
            (paths.join(folder, vid, f"{vid}.bin"), vm.memory_bytes),
            (paths.join(folder, vid, f"{vid}.vsv"), DEVICE_STATE_BYTES),
        ]
    return [
        (paths.join(folder, f"{vid}.vmrs"), RESIDENT_VMRS_BYTES),
        (paths.join(folder, f"{vid}.vmgs"), GUEST_STATE_BYTES),
    ]


def listing(vm: VMState, now: datetime, since: datetime) -> list[tuple[str, int, datetime]]:
    """(path, Length, LastWriteTimeUtc) of every saved-state file of the VM at `now`.

    `since` stands for the last write of the resident files when nothing rewrote them yet.
    A save in progress or done (vm.saved) overrides the resident file of the same path.
    """
    written = vm.state_files_written or since
    files = {p.casefold(): (p, size, written) for p, size in resident(vm)}
    if vm.saved is not None:
        for p, size, when in vm.saved.listing(now):
            files[p.casefold()] = (p, size, when)
    return list(files.values())
