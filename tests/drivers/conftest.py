"""Fixtures: a lab cluster on a manual clock, and parameters for every read probe."""

from __future__ import annotations

from typing import Any

import pytest

from harness.domain.events import queries
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import Topology, load_default_topology


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_default_topology()


@pytest.fixture
def cluster(topology: Topology) -> LabCluster:
    return LabCluster(topology, ManualClock())


def read_calls(topology: Topology) -> list[tuple[str, dict[str, Any], str | None]]:
    """(probe, params, node) covering every read probe, guests asked on their owner."""
    vm = next(v for v in topology.vms if v.state == "Running")
    first = topology.nodes[0].name
    return [
        ("host_info", {}, None),
        ("host_info", {}, topology.non_members[0].name),
        ("cluster_inventory", {}, None),
        ("vm_details", {"vm_id": vm.vm_id}, vm.owner),
        ("vm_details", {"vm_id": vm.vm_id}, first if vm.owner != first else None),
        ("vm_registration", {"vm_id": vm.vm_id}, vm.owner),
        ("vm_resources", {"vm_id": vm.vm_id}, None),
        ("guest_clock", {"vm_name": vm.name}, vm.owner),
        ("guest_kvp", {"vm_name": vm.name}, vm.owner),
        (
            "cluster_events",
            {"since_utc": "2020-01-01T00:00:00Z", "queries": queries([1641, 1200])},
            None,
        ),
        ("path_info", {"path": topology.csvs[0].path}, None),
        ("network_counters", {}, None),
        ("move_status", {"vm_names": [v.name for v in topology.vms]}, None),
        *capture_calls(topology),
    ]


def capture_calls(topology: Topology) -> list[tuple[str, dict[str, Any], str | None]]:
    """The capture-only read probes (harness/capture/), asked as `qmaudit capture` asks them."""
    names = [v.name for v in topology.vms]
    ids = [v.vm_id for v in topology.vms]
    since = "2020-01-01T00:00:00Z"
    return [
        ("capture_event_providers", {"providers": ["Microsoft-Windows-FailoverClustering"]}, None),
        ("capture_vm_events", {"since_utc": since, "vm_names": names, "vm_ids": ids}, None),
        ("capture_cluster_parameters", {"vm_names": names}, None),
        ("capture_vm_properties", {"vm_ids": ids}, None),
        ("capture_registration_folders", {"vm_ids": ids}, None),
    ]
