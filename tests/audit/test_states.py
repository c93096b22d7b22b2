"""Probe documents accept every VM state Hyper-V reports, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

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


# Windows' own enumerations (clusapi.h CLUSTER_NODE_STATE, CLUSTER_GROUP_STATE,
# CLUSTER_RESOURCE_STATE) as Get-ClusterNode/-Group/-Resource print them; docs/windows-fidelity.md.
@pytest.mark.parametrize(
    ("probe", "path", "state"),
    [
        ("move_status", ["vms", 0, "group_state"], "Unknown"),
        ("move_status", ["vms", 0, "resource_state"], "Unknown"),
        ("move_status", ["vms", 0, "resource_state"], "Inherited"),
        ("move_status", ["vms", 0, "resource_state"], "Initializing"),
        ("move_status", ["vms", 0, "resource_state"], "Pending"),
        ("cluster_inventory", ["nodes", 0, "state"], "Unknown"),
    ],
)
def test_cluster_states_windows_reports_are_accepted(
    probe: str, path: list[Any], state: str
) -> None:
    from harness.schemas import validate_probe_output
    from tests.probes.conftest import sample_doc

    doc = sample_doc(probe)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = state
    validate_probe_output(probe, doc)


class _StateInjector:
    """A driver whose move_status answers carry `state` from the `after`-th poll on."""

    def __init__(self, inner: Any, field: str, state: str, after: int) -> None:
        self.inner, self.field, self.state, self.after = inner, field, state, after
        self.polls = 0

    @property
    def nodes(self) -> list[str]:
        return list(self.inner.nodes)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        from harness.schemas import parse_probe_output

        doc = self.inner.run_probe(name, params, node)
        if name == "move_status":
            self.polls += 1
            if self.polls > self.after:
                for vm in doc["vms"]:
                    vm[self.field] = self.state
        # Parsed again the way a real driver reads Windows' text: no node in the error.
        return parse_probe_output(name, json.dumps(doc))

    def close(self) -> None:
        self.inner.close()


def _lab_cluster(field: str, state: str) -> tuple[Any, Any]:
    from harness.audit.catalog import Catalog
    from harness.audit.cluster import Cluster
    from harness.drivers.lab import LabDriver
    from harness.lab.clock import ManualClock
    from harness.lab.model import LabCluster
    from harness.lab.topology import load_default_topology

    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    lab = LabCluster(load_default_topology(), clock)
    driver = _StateInjector(LabDriver(lab), field, state, after=2)
    cluster = Cluster(driver, poll_interval_s=0.1, sleep=clock.advance)
    return cluster, Catalog.read(cluster, lambda _n: True).get("web 01")


def test_unknown_state_mid_poll_is_broken_evidence_naming_value_probe_and_node() -> None:
    from harness.audit.moves import quick_migrate
    from harness.errors import HarnessError, ProbeOutputError

    cluster, vm = _lab_cluster("group_state", "Reticulating")
    target = "HV-B" if vm.owner != "HV-B" else "HV-A"
    with pytest.raises(HarnessError) as caught:
        quick_migrate(cluster, [vm], target)
    assert not isinstance(caught.value, AssertionError)
    error = caught.value
    assert isinstance(error, ProbeOutputError)
    assert "Reticulating" in str(error)
    assert "'move_status'" in str(error)
    assert error.node is not None and error.node in str(error)


def test_a_known_windows_state_mid_poll_does_not_break_the_move() -> None:
    from harness.audit.moves import quick_migrate

    cluster, vm = _lab_cluster("resource_state", "Initializing")
    target = "HV-B" if vm.owner != "HV-B" else "HV-A"
    (outcome,) = quick_migrate(cluster, [vm], target)
    assert outcome.final_owner == target
