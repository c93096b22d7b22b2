"""Topology loading: the default topology, derived identities, bad input (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.errors import InputError
from harness.lab.topology import load_default_topology, load_topology, parse_topology
from tests.lab.conftest import default_data


def test_default_topology_covers_the_brief() -> None:
    t = load_default_topology()
    assert len(t.nodes) == 3
    assert any(n.program_data.upper().startswith("D:") for n in t.nodes)
    assert len(t.csvs) == 1 and len(t.cluster_disks) == 1 and len(t.smb_shares) == 1
    assert t.non_members
    vms = {v.name: v for v in t.vms}
    assert {v.config_version for v in t.vms} == {"5.0", "9.0"}
    assert {v.state for v in t.vms} >= {"Running", "Off", "Saved"}
    assert any(not v.time_sync_enabled for v in t.vms)
    assert any(v.priority < t.cluster.move_type_threshold for v in t.vms)
    assert any(v.passthrough_disk for v in t.vms)
    assert len({v.memory_mib for v in t.vms}) >= 4
    assert all(512 <= v.memory_mib <= 4096 for v in t.vms)
    assert any(" " in name for name in vms)
    running_on = {v.storage for v in t.vms if v.state == "Running"}
    assert {c.path for c in t.csvs} <= running_on
    assert {d.mount for d in t.cluster_disks} <= running_on
    assert {s.path for s in t.smb_shares} <= running_on


def test_derived_identities_are_stable_and_given_ones_kept() -> None:
    a, b = load_default_topology(), load_default_topology()
    assert [v.vm_id for v in a.vms] == [v.vm_id for v in b.vms]
    assert [v.vm_resource_id for v in a.vms] == [v.vm_resource_id for v in b.vms]
    data = default_data()
    data["vms"][0]["vm_id"] = "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}"
    data["vms"][0]["mac_addresses"] = ["00-15-5D-01-02-03"]
    vm = parse_topology(data, "x.yaml").vms[0]
    assert vm.vm_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert vm.mac_addresses == ("00155D010203",)


def test_cli_validate_and_show_accept_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.lab.topology import DEFAULT_TOPOLOGY

    assert main(["lab", "validate", str(DEFAULT_TOPOLOGY)]) == 0
    assert main(["lab", "show"]) == 0
    out = capsys.readouterr().out
    assert "web 01" in out and "HV-X" in out and "Cluster Disk 2" in out


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _append_vm(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        vm = {"name": "extra", "memory_mib": 512, "owner": "HV-A", "storage": "\\\\FS1\\VMs"}
        vm.update(fields)
        data["vms"].append(vm)

    return edit


def _dup_vm_id(data: dict[str, Any]) -> None:
    data["vms"][0]["vm_id"] = "11111111-2222-3333-4444-555555555555"
    data["vms"][1]["vm_id"] = "11111111-2222-3333-4444-555555555555"


def _csv_is_local(data: dict[str, Any]) -> None:
    data["nodes"][0]["local_disks"].append(
        {"path": "C:\\ClusterStorage\\Volume1", "read_mb_s": 1, "write_mb_s": 1}
    )


BAD_DOCS = [
    ("unknown owner", _set(["vms", 0, "owner"], "HV-Z"), "$.vms[0].owner", "not a node"),
    ("non-member owner", _set(["vms", 0, "owner"], "HV-X"), "$.vms[0].owner", "non-member"),
    (
        "undeclared storage",
        _set(["vms", 0, "storage"], "F:\\VMs"),
        "$.vms[0].storage",
        "not declared storage",
    ),
    ("duplicate VM name", _append_vm(name="db01"), "$.vms[9].name", "duplicate VM name"),
    ("duplicate VMId", _dup_vm_id, "$.vms[1].vm_id", "duplicate VMId"),
    ("duplicate node", _set(["nodes", 1, "name"], "HV-A"), "$.nodes[1].name", "duplicate"),
    ("CSV path also local", _csv_is_local, "$.nodes[0].local_disks[1].path", "both"),
    (
        "negative throughput",
        _set(["storage", "csvs", 0, "write_mb_s"], -5),
        "$.storage.csvs[0].write_mb_s",
        "less than or equal to the minimum",
    ),
    ("unknown key", _set(["vms", 0, "colour"], "red"), "$.vms[0]", "colour"),
    ("bad state", _set(["nodes", 0, "state"], "Sleeping"), "$.nodes[0].state", "Sleeping"),
    ("bad priority", _set(["vms", 0, "priority"], 1500), "$.vms[0].priority", "1500"),
    (
        "second VM on a cluster disk",
        _append_vm(owner="HV-B", storage="E:\\"),
        "$.vms[9].storage",
        "one group",
    ),
    (
        "unknown rule",
        _set(["rules_off"], [{"rule": "no_such_rule"}]),
        "$.rules_off[0].rule",
        "unknown rule",
    ),
    (
        "rule for unknown VM",
        _set(["rules_off"], [{"rule": "files_stay", "vm": "nope"}]),
        "$.rules_off[0].vm",
        "unknown VM",
    ),
    (
        "rule not switchable per VM",
        _set(["rules_off"], [{"rule": "drain_evacuates", "vm": "db01"}]),
        "$.rules_off[0].vm",
        "per VM",
    ),
    (
        "bad boot time",
        _set(["vms", 0, "guest_boot_time"], "yesterday"),
        "$.vms[0].guest_boot_time",
        "ISO 8601",
    ),
    (
        "running VM on a Down node",
        _set(["nodes", 0, "state"], "Down"),
        "$.vms[0].state",
        "Down node",
    ),
    (
        "disk owner not a possible owner",
        _set(["storage", "cluster_disks", 0, "possible_owners"], ["HV-A", "HV-C"]),
        "$.storage.cluster_disks[0].owner",
        "possible owners",
    ),
]


def _run_validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["lab", "validate", str(path)])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("case", "edit", "where", "reason"), BAD_DOCS, ids=[c[0] for c in BAD_DOCS]
)
def test_bad_topology_exits_2_naming_file_place_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    edit: Callable[[dict[str, Any]], None],
    where: str,
    reason: str,
) -> None:
    data = default_data()
    edit(data)
    path = tmp_path / "bad topology.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, err = _run_validate(path, capsys)
    assert code == 2, err
    assert str(path) in err
    assert where in err
    assert reason in err
    assert "Traceback" not in err


BAD_TEXTS = [
    ("yaml syntax", "cluster: {name: X\nnodes: [", "line ", "YAML syntax error"),
    ("empty file", "", "$", "empty"),
    ("only a comment", "# nothing\n", "$", "mapping"),
    ("top level list", "- a\n- b\n", "$", "mapping"),
    (
        "duplicate key",
        "cluster: {name: A}\ncluster: {name: B}\nnodes: []\nvms: []\n",
        "line 2",
        "duplicate key",
    ),
    (
        "missing section",
        "cluster: {name: A}\nnodes: [{name: N1}]\n",
        "$",
        "'vms' is a required property",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "where", "reason"), BAD_TEXTS, ids=[c[0] for c in BAD_TEXTS]
)
def test_bad_files_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    text: str,
    where: str,
    reason: str,
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = _run_validate(path, capsys)
    assert code == 2
    assert str(path) in err and where in err and reason in err
    assert "Traceback" not in err


def test_missing_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_validate(tmp_path / "absent.yaml", capsys)
    assert code == 2 and "absent.yaml" in err and "not found" in err
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, err = _run_validate(binary, capsys)
    assert code == 2 and "binary.yaml" in err
    code, err = _run_validate(tmp_path, capsys)  # a directory
    assert code == 2 and "cannot read" in err


def test_state_off_is_a_string_not_a_yaml_boolean(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    text = (
        "cluster: {name: C}\nnodes: [{name: N1}, {name: N2}]\n"
        "storage: {smb_shares: [{path: '\\\\S\\V', read_mb_s: 1, write_mb_s: 1}]}\n"
        "vms: [{name: \"v 'é'\", memory_mib: 512, owner: N1, storage: '\\\\S\\V', state: Off}]\n"
    )
    path.write_text(text, encoding="utf-8")
    t = load_topology(path)
    assert t.vms[0].state == "Off"
    assert t.vms[0].name == "v 'é'"


def test_input_error_carries_file_place_reason() -> None:
    data = default_data()
    data["vms"][2]["owner"] = "HV-Q"
    with pytest.raises(InputError) as info:
        parse_topology(data, "file.yaml")
    assert (info.value.source, info.value.location) == ("file.yaml", "$.vms[2].owner")
