"""Probe documents accept every VM state Hyper-V reports, and nothing else."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("state", "valid"),
    [("Running", True), ("RunningCritical", True), ("FastSaved", True), ("Bogus", False)],
)
def test_vm_states_as_hyper_v_names_them(state: str, valid: bool) -> None:
    from harness.errors import ProbeOutputError
    from harness.schemas import validate_probe_output

    doc = {
        "node": "HV-A",
        "host_utc": "2026-11-27T22:45:46.000000Z",
        "vms": [
            {
                "vm": "web 01",
                "group_state": "Online",
                "owner_node": "HV-A",
                "vm_state": state,
                "resource_state": "Online",
            }
        ],
    }
    if valid:
        validate_probe_output("move_status", doc)
    else:
        with pytest.raises(ProbeOutputError, match=r"\$\.vms\[0\]\.vm_state"):
            validate_probe_output("move_status", doc)
