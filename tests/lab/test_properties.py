"""Property tests: random operation sequences keep the model's invariants (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import LabOperationError
from harness.lab import paths
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import parse_topology
from tests.lab.conftest import START, default_data

MiB = 1024 * 1024
HOSTS = ["HV-A", "HV-B", "HV-C", "HV-X"]


def _snapshot(c: LabCluster) -> Any:
    with c.session():
        vms = [
            (v.name, v.state, v.owner, v.group_state, v.folder, v.moving_to, len(v.history))
            for v in c.vms.values()
        ]
        nodes = [
            (n.name, n.state, n.drain_status, sorted(n.registered), len(n.events), n.sent_bytes)
            for n in c.nodes.values()
        ]
        return vms, nodes, dict(c.disk_owner)


def _expected_downtime(c: LabCluster, name: str) -> float:
    vm = c.vm(name)
    ref = c.storage_of(vm.spec.storage, None)
    assert ref is not None
    transfer = 2.0 if ref.kind == "cluster_disk" else 0.5
    return (
        vm.memory_bytes / (ref.write_mb_s * 1e6)
        + transfer
        + vm.memory_bytes / (ref.read_mb_s * 1e6)
    )


def _check_invariants(c: LabCluster, initial_states: dict[str, str]) -> None:
    with c.session() as now:
        for vm in c.vms.values():
            holders = [n.name for n in c.nodes.values() if vm.vm_id in n.registered]
            assert holders == [vm.owner], (vm.name, holders)
            assert vm.vm_resource_id == vm.spec.vm_resource_id
            assert vm.config_resource_id == vm.spec.config_resource_id
            assert vm.folder == vm.spec.folder and vm.macs == vm.spec.mac_addresses
            if vm.saved is not None:
                for path, _ in vm.saved.sizes(now):
                    assert paths.under(path, vm.spec.storage)
                    ref = c.storage_of(path, vm.owner)
                    assert ref is not None and ref.shared
            expected = initial_states[vm.name]
            if expected == "Paused" and any(r.kind == "failover" for r in vm.history):
                expected = "Running"  # a crash loses the paused guest: it boots cold
            if vm.group_state != "Failed":
                assert vm.state == expected, vm.name
            for rec in vm.history:
                assert rec.completed_at is not None
                if rec.kind == "quick":
                    assert rec.downtime_s is not None
                    assert abs(rec.downtime_s - _expected_downtime(c, vm.name)) < 1e-4
                    assert rec.network_bytes < MiB
                if rec.kind == "registration":
                    assert rec.downtime_s is not None and rec.downtime_s < 1.0


op = st.one_of(
    st.tuples(
        st.just("move"),
        st.lists(st.integers(0, 20), min_size=1, max_size=3),
        st.sampled_from([None, *HOSTS]),
    ),
    st.tuples(st.just("advance"), st.floats(0, 20), st.none()),
    st.tuples(
        st.sampled_from(["drain", "resume", "crash", "power_on"]),
        st.sampled_from(HOSTS),
        st.none(),
    ),
)


def _run(c: LabCluster, ops: list[tuple[str, Any, Any]]) -> None:
    initial = {v.name: v.state for v in c.vms.values()}
    names = list(c.vms)
    clock = c.clock
    assert isinstance(clock, ManualClock)
    for kind, a, b in ops:
        before = _snapshot(c)
        try:
            if kind == "move":
                c.move_vms([names[i % len(names)] for i in a], b)
            elif kind == "advance":
                clock.advance(a)
            elif kind == "drain":
                c.drain_node(a)
            elif kind == "resume":
                c.resume_node(a)
            elif kind == "crash":
                c.crash_node(a)
            else:
                c.power_on_node(a)
        except LabOperationError:
            assert _snapshot(c) == before, kind  # refused: nothing changed
    c.settle()
    _check_invariants(c, initial)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.lists(op, max_size=12))
def test_random_operations_on_the_default_topology(ops: list[tuple[str, Any, Any]]) -> None:
    data = default_data()
    data["rules_off"] = []
    _run(LabCluster(parse_topology(data, "default"), ManualClock(START)), ops)


@st.composite
def small_topology(draw: st.DrawFn) -> dict[str, Any]:
    n_nodes = draw(st.integers(2, 4))
    nodes = [f"N{i}" for i in range(n_nodes)]
    storage = {
        "csvs": [
            {
                "name": "CSV 1",
                "path": "C:\\ClusterStorage\\Volume1",
                "read_mb_s": draw(st.integers(100, 2000)),
                "write_mb_s": draw(st.integers(100, 2000)),
            }
        ],
        "smb_shares": [
            {
                "path": "\\\\FS\\VMs",
                "read_mb_s": draw(st.integers(100, 2000)),
                "write_mb_s": draw(st.integers(100, 2000)),
            }
        ],
        "cluster_disks": [
            {
                "name": "Disk 2",
                "mount": "E:\\",
                "owner": nodes[0],
                "read_mb_s": 500,
                "write_mb_s": 400,
            }
        ],
    }
    vms = []
    disk_used = False
    for i in range(draw(st.integers(1, 5))):
        owner = draw(st.sampled_from(nodes))
        roots = ["C:\\ClusterStorage\\Volume1", "\\\\FS\\VMs"]
        if not disk_used and owner == nodes[0]:
            roots.append("E:\\")
        root = draw(st.sampled_from(roots))
        disk_used = disk_used or root == "E:\\"
        vms.append(
            {
                "name": f"vm {i} ü'",
                "memory_mib": draw(st.integers(512, 8192)),
                "config_version": draw(st.sampled_from(["5.0", "9.0"])),
                "state": draw(st.sampled_from(["Running", "Off", "Saved", "Paused"])),
                "owner": owner,
                "storage": root,
                "priority": draw(st.sampled_from([0, 1000, 2000, 3000])),
            }
        )
    return {
        "cluster": {"name": "SMALL"},
        "nodes": [{"name": n} for n in nodes],
        "non_members": [{"name": "HV-X"}],
        "storage": storage,
        "vms": vms,
    }


@FAST
@given(small_topology(), st.lists(op, max_size=10))
def test_random_operations_on_small_topologies(
    data: dict[str, Any], ops: list[tuple[str, Any, Any]]
) -> None:
    c = LabCluster(parse_topology(data, "generated"), ManualClock(START))
    names = [n.name for n in c.members()] + ["HV-X"]
    ops = [
        (k, a, names[HOSTS.index(b)] if isinstance(b, str) and HOSTS.index(b) < len(names) else b)
        if k == "move"
        else (
            k,
            names[HOSTS.index(a)] if isinstance(a, str) and HOSTS.index(a) < len(names) else a,
            b,
        )
        for k, a, b in ops
    ]
    _run(c, ops)
