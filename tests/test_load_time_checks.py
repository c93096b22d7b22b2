"""Semantic checks when a file is loaded: topology storage, inventory names, profile scopes.

Every refusal goes through the command a user runs: exit 2, `file: $.path: reason`, no
traceback, and (for profiles) before the self-test starts any run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.lab.topology import DEFAULT_TOPOLOGY

# ----- topology: a node-local disk at, inside or above a CSV path ---------------------------
LOCAL_A = "    local_disks: [{path: 'C:\\', read_mb_s: 400, write_mb_s: 300}]"


def _topology_with_local_disk(tmp_path: Path, disk: str) -> Path:
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    assert LOCAL_A in text
    extra = "    local_disks: [{path: 'C:\\', read_mb_s: 400, write_mb_s: 300}, "
    extra += f"{{path: '{disk}', read_mb_s: 100, write_mb_s: 100}}]"
    path = tmp_path / "topology.yaml"
    path.write_text(text.replace(LOCAL_A, extra, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("disk", "how"),
    [
        ("C:\\ClusterStorage\\Volume1", "declared both as a local disk and as shared storage"),
        ("c:\\clusterstorage\\volume1\\", "declared both as a local disk and as shared"),
        ("C:\\ClusterStorage\\Volume1\\Local", "a node-local disk inside the CSV path"),
        ("C:\\ClusterStorage", "a node-local disk above the CSV path"),
    ],
)
def test_local_disk_in_the_csv_namespace_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], disk: str, how: str
) -> None:
    path = _topology_with_local_disk(tmp_path, disk)
    assert main(["lab", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: $.nodes[0].local_disks[1].path: " in err and how in err, err


@pytest.mark.parametrize("disk", ["D:\\", "C:\\ClusterStorageOld", "C:\\Data\\ClusterStorage"])
def test_local_disks_beside_the_csv_namespace_are_fine(tmp_path: Path, disk: str) -> None:
    assert main(["lab", "validate", str(_topology_with_local_disk(tmp_path, disk))]) == 0


# ----- inventory: host and node names -------------------------------------------------------
BASE = {
    "cluster": "PRODCLU1",
    "defaults": {"scheme": "https", "port": 5986, "transport": "kerberos"},
    "nodes": [{"name": "HV01", "host": "hv01.corp.example"}, {"name": "HV02", "host": "10.0.0.2"}],
    "vms": {"allow": ["qm-*"]},
}


def _inventory(tmp_path: Path, node: dict[str, object]) -> Path:
    doc = {**BASE, "nodes": [BASE["nodes"][0], node]}  # type: ignore[index]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("node", "where", "reason"),
    [
        ({"name": "HV02", "host": "hv 02.corp"}, "$.nodes[1].host", "not a DNS host name"),
        ({"name": "HV02", "host": "hv02;rm -rf"}, "$.nodes[1].host", "not a DNS host name"),
        ({"name": "HV02", "host": "https://hv02:5986/wsman"}, "$.nodes[1].host", "not a URL"),
        ({"name": "HV02", "host": "-hv02"}, "$.nodes[1].host", "not a DNS host name"),
        ({"name": "HV02", "host": "999.1.1.1"}, "$.nodes[1].host", "not an IP address"),
        ({"name": "HV02", "host": "a" * 64 + ".corp"}, "$.nodes[1].host", "not a DNS host name"),
        ({"name": "HYPERV-NODE-0002", "host": "hv02"}, "$.nodes[1].name", "1 to 15 characters"),
        ({"name": "HV 02", "host": "hv02"}, "$.nodes[1].name", "not a Windows computer name"),
        ({"name": "HV*02", "host": "hv02"}, "$.nodes[1].name", "not a Windows computer name"),
        ({"name": ".HV02", "host": "hv02"}, "$.nodes[1].name", "cannot start with a period"),
        ({"name": "1234", "host": "hv02"}, "$.nodes[1].name", "not only digits"),
        ({"name": "HV02", "host": "HV01.corp.example."}, "$.nodes[1].host", "also the host of"),
    ],
)
def test_bad_node_names_and_hosts_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], node: dict, where: str, reason: str
) -> None:
    path = _inventory(tmp_path, node)
    assert main(["check-inventory", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {where}: " in err and reason in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "node",
    [
        {"name": "HV02", "host": "::1"},
        {"name": "hv-02_b", "host": "hv02.corp.example"},
        {"name": "HV02", "host": "hv01.corp.example", "port": 5999},  # another listener
    ],
)
def test_good_node_names_and_hosts_pass_validation(tmp_path: Path, node: dict) -> None:
    from harness.targets.inventory import load_inventory

    inventory = load_inventory(_inventory(tmp_path, node))
    assert [n.name for n in inventory.nodes] == ["HV01", node["name"]]


# ----- profiles: every VM, node and parameter checked before any run ------------------------
def _profile(tmp_path: Path, entry: dict[str, object]) -> Path:
    doc = {
        "name": "bad-one",
        "description": "test",
        "breaks": ["QM-01", "QM-02", "QM-03", "QM-09"],
        "rules_off": [entry],
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "where", "reason"),
    [
        ({"rule": "save_before_move", "vm": "no such vm"}, ".vm", "is not in topology"),
        ({"rule": "save_before_move", "node": "HV-Z"}, ".node", "is not in topology"),
        (
            {"rule": "storage_speed_as_declared", "params": {"factor": "ten"}},
            ".params.factor",
            "a number from 1 to 1000",
        ),
        (
            {"rule": "storage_speed_as_declared", "params": {"factor": 0}},
            ".params.factor",
            "a number from 1 to 1000",
        ),
        (
            {"rule": "storage_speed_as_declared", "params": {"speed": 3}},
            ".params.speed",
            "takes no parameter 'speed'",
        ),
        (
            {"rule": "saved_state_on_vm_storage", "params": {"path": "/tmp/x"}},
            ".params.path",
            "must be a Windows path",
        ),
        (
            {"rule": "link_points_at_config", "params": {"target": 5}},
            ".params.target",
            "must be a Windows path",
        ),
        ({"rule": "save_before_move", "params": {"x": 1}}, ".params.x", "takes no parameter"),
    ],
)
def test_bad_profile_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: dict, where: str, reason: str
) -> None:
    path = _profile(tmp_path, entry)
    started = time.monotonic()
    rc = main(["selftest", "--profile", str(path)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert f"{path}: $.rules_off[0]{where}: " in err and reason in err, err
    assert "runs on lab" not in out, "the self-test started before checking the profile"
    assert elapsed < 30, "no lab run may start"


def test_bad_rule_params_in_a_topology_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8").replace(
        "rules_off: []", "rules_off: [{rule: storage_speed_as_declared, params: {factor: -3}}]"
    )
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["lab", "validate", str(path)]) == 2
    assert "$.rules_off[0].params.factor: must be a number" in capsys.readouterr().err


# ----- topology: figures that make the time model meaningless --------------------------------
@pytest.mark.parametrize(
    ("old", "new", "place"),
    [
        ("network_mb_s: 1250", "network_mb_s: 1.0e-300", "$.cluster.network_mb_s"),
        ("read_mb_s: 400", "read_mb_s: 1.0e-300", "local_disks[0].read_mb_s"),
        ("read_mb_s: 400", "read_mb_s: 0.001", "local_disks[0].read_mb_s"),
    ],
)
def test_meaningless_throughput_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, place: str
) -> None:
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "topology.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    started = time.monotonic()
    assert main(["lab", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert place in err and "more than a day" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and time.monotonic() - started < 10


@pytest.mark.parametrize("factor", ["1.0e+300", "0", "-3", "0.5"])
def test_meaningless_rule_factor_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], factor: str
) -> None:
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    rule = f"\n  - {{rule: storage_speed_as_declared, params: {{factor: {factor}}}}}"
    assert "\nrules_off: []" in text
    text = text.replace("\nrules_off: []", "\nrules_off:" + rule, 1)
    path = tmp_path / "topology.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["lab", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "$.rules_off[0].params.factor" in err and "Traceback" not in err, err


# ----- thresholds: bounds that make a judgement meaningless ----------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_fit_r2", 1.5),
        ("throughput_tolerance", 0.2),
        ("max_network_fraction", 3.0),
        ("failover_timeout_s", 1e-300),
        ("move_timeout_s", 1e300),
    ],
)
def test_meaningless_threshold_refused(name: str, value: float) -> None:
    from harness.domain.thresholds import Thresholds
    from harness.errors import InputError

    with pytest.raises(InputError, match=rf"\$\.thresholds\.{name}: .*outside"):
        Thresholds().with_overrides({name: value}, "inventory.yaml")
    assert Thresholds().with_overrides({name: 1.0}, "inventory.yaml")
