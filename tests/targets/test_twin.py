"""The twin of a target, built from read probes only, reproduces the cluster it was read from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.audit.cluster import Cluster
from harness.domain.storage import is_unc
from harness.errors import HarnessError
from harness.lab.topology import Topology, load_default_topology, load_topology, parse_topology
from harness.selftest.topogen import random_topology_text
from harness.suite.plan import ReadOnlyGuard
from harness.targets.lab import open_lab
from harness.targets.registry import Target, VmPolicy, open_target, parse_spec
from harness.targets.twin import Twin, assumed_mb_s, escape_pattern, twin_of


def _twin(target: Target) -> Twin:
    # ReadOnlyGuard: building the twin may only read; any action would raise.
    return twin_of(Cluster(target.driver, guard=ReadOnlyGuard()), target)


def _owners(topology: Topology, given: tuple[str, ...]) -> tuple[str, ...]:
    # A topology that names no possible owners means every node (what the cluster reports).
    return tuple(sorted(given or (n.name for n in topology.nodes)))


def _vm_facts(topology: Topology) -> dict[str, tuple[Any, ...]]:
    return {
        v.name: (
            v.owner,
            v.memory_mib,
            v.config_version,
            v.state,
            v.storage.casefold(),
            v.priority,
            tuple(v.preferred_owners),
            _owners(topology, v.possible_owners),
            v.passthrough_disk,
            v.time_sync_enabled,
            v.time_sync_functional,
            v.vm_id,
        )
        for v in topology.vms
    }


def _storage(topology: Topology) -> dict[str, Any]:
    return {
        "csvs": sorted((c.name, c.path, c.read_mb_s, c.write_mb_s) for c in topology.csvs),
        "disks": sorted(
            (
                d.name,
                d.mount,
                d.owner,
                _owners(topology, d.possible_owners),
                d.read_mb_s,
                d.write_mb_s,
            )
            for d in topology.cluster_disks
        ),
        "shares": sorted((s.path, s.read_mb_s, s.write_mb_s) for s in topology.smb_shares),
    }


def _assert_reproduces(original: Topology, twin: Twin) -> None:
    built = parse_topology(twin.document, "twin")  # valid against topology.schema.json
    assert _vm_facts(built) == _vm_facts(original)
    assert _storage(built) == _storage(original)
    assert [(n.name, n.state, n.program_data) for n in built.nodes] == [
        (n.name, n.state, n.program_data) for n in original.nodes
    ]
    assert built.cluster.name == original.cluster.name
    assert built.cluster.move_type_threshold == original.cluster.move_type_threshold
    assert [m.name for m in built.non_members] == [m.name for m in original.non_members][:1]


def test_the_twin_of_the_default_lab_reproduces_it() -> None:
    target = open_target("lab+inproc")
    try:
        twin = _twin(target)
    finally:
        target.close()
    original = load_default_topology()
    _assert_reproduces(original, twin)
    # Every shared root's throughput was declared by the lab: only local disks are assumed.
    assumed = [a for a in twin.assumptions if "assumed" in a]
    assert assumed and all(":\\: throughput" in a for a in assumed), assumed
    assert twin.policy.allow_destructive and twin.policy.lab_actions
    assert twin.policy.non_member_host == "HV-X"
    assert sorted(twin.policy.allow) == sorted(v.name for v in original.vms)


@pytest.mark.parametrize("seed", [3, 11])
def test_the_twin_of_a_generated_topology_reproduces_it(tmp_path: Path, seed: int) -> None:
    file = tmp_path / "random.yaml"
    file.write_text(random_topology_text(seed), encoding="utf-8")
    original = load_topology(file)
    default = load_default_topology()
    # A deliberately different cluster: other nodes, VMs and storage than the default lab.
    assert {n.name for n in original.nodes} != {n.name for n in default.nodes}
    target = open_lab(str(file), served=False)
    try:
        twin = _twin(target)
    finally:
        target.close()
    _assert_reproduces(original, twin)


def test_undeclared_throughput_is_a_stated_assumption() -> None:
    target = open_target("lab+inproc")
    target.throughputs = ()  # a real target that declares none
    try:
        twin = _twin(target)
    finally:
        target.close()
    speed = round(assumed_mb_s(target.thresholds), 3)
    csv = twin.document["storage"]["csvs"][0]
    assert (csv["read_mb_s"], csv["write_mb_s"]) == (speed, speed)
    assert any(csv["path"] in a and f"{speed:g} MB/s" in a for a in twin.assumptions)
    # 1 GiB saved and restored at that speed takes exactly the per-GiB bound.
    assert 2 * 2**30 / (speed * 1e6) == pytest.approx(15.0, rel=1e-3)


def test_the_real_policy_goes_to_the_twin(tmp_path: Path) -> None:
    target = open_target("lab+inproc")
    target.vm_policy = VmPolicy(allow=("web*", "db01"), never=("db01",))
    target.allow_destructive = False
    target.lab_actions = False
    target.non_member_host = None
    try:
        twin = _twin(target)
    finally:
        target.close()
    assert "non_members" not in twin.document  # the target names no non-member host
    spec = twin.write(tmp_path / "twin")
    opened = open_target(parse_spec(spec.text))
    try:
        assert opened.refusal("web 01") is None
        assert opened.refusal("db01") is not None  # never wins
        assert opened.refusal("batch01") is not None
        assert not opened.allow_destructive and not opened.lab_actions
        assert opened.non_member_host is None
        assert opened.lab is not None  # the twin is a lab on simulated time
    finally:
        opened.close()


def test_vm_names_with_pattern_characters_are_allowed_exactly() -> None:
    policy = VmPolicy(allow=(escape_pattern("web[1]*?"),))
    assert policy.allows("web[1]*?")
    assert not policy.allows("web1xx")


def test_building_the_twin_never_acts_on_the_target() -> None:
    target = open_target("lab+inproc")
    try:
        cluster = Cluster(target.driver, guard=ReadOnlyGuard())
        with pytest.raises(HarnessError, match="only read"):
            cluster.resume("HV-A")
    finally:
        target.close()


def test_storage_roots_are_read_from_vm_paths() -> None:
    target = open_target("lab+inproc")
    try:
        twin = _twin(target)
    finally:
        target.close()
    roots = {v["name"]: v["storage"] for v in twin.document["vms"]}
    assert roots["db01"] == "E:\\" and roots["app 02"] == "\\\\FS1\\VMs"
    assert is_unc(roots["report01"])


def test_a_vm_the_lab_cannot_model_stops_the_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    target = open_target("lab+inproc")
    cluster = Cluster(target.driver, guard=ReadOnlyGuard())
    details = cluster.vm_details

    def starting(vm_id: str, owner: str) -> Any:
        found = details(vm_id, owner)
        return dataclasses.replace(found, state="Starting") if found is not None else None

    monkeypatch.setattr(cluster, "vm_details", starting)
    try:
        with pytest.raises(HarnessError, match="is Starting"):
            twin_of(cluster, target)
    finally:
        target.close()


def test_a_host_that_does_not_answer_gets_the_default_program_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = open_target("lab+inproc")
    cluster = Cluster(target.driver, guard=ReadOnlyGuard())
    host_info = cluster.host_info

    def silent(node: str) -> dict[str, Any]:
        if node == "HV-C":
            raise HarnessError("no answer from HV-C")
        return host_info(node)

    monkeypatch.setattr(cluster, "host_info", silent)
    try:
        twin = twin_of(cluster, target)
    finally:
        target.close()
    nodes = {n["name"]: n["program_data"] for n in twin.document["nodes"]}
    assert nodes == {
        "HV-A": "C:\\ProgramData",
        "HV-B": "C:\\ProgramData",
        "HV-C": "C:\\ProgramData",
    }
    assert any(
        a.startswith("HV-C: %ProgramData% not read (host_info probe: ") and "QM-22" in a
        for a in twin.assumptions
    )
