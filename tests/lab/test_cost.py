"""The lab's Windows cost model: what each session model pays, where it is configured."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import winrm
import yaml

from harness.drivers.lab import LabDriver
from harness.errors import InputError
from harness.lab.clock import ScaledClock
from harness.lab.cost import (
    ENV_VAR,
    MODULES,
    OFF,
    CostMeter,
    WindowsCost,
    parse_cost,
    resolve_cost,
)
from harness.lab.model import LabCluster
from harness.lab.topology import DEFAULT_TOPOLOGY, load_default_topology, load_topology
from harness.lab.wsman import LabCredentials, WSManListener
from harness.probes.commands import modules_in
from harness.probes.protocol import build_script
from harness.yamlfile import read_yaml_file

COST = WindowsCost(0.6, {"FailoverClusters": 0.3, "Hyper-V": 0.4}, 0.03)


class FakeSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_probes_declare_the_modules_they_import() -> None:
    assert modules_in(build_script("vm_details", {"vm_id": "x"})) == ("Hyper-V",)
    assert set(modules_in(build_script("move_status", {"vm_names": ["a"]}))) == set(MODULES)
    assert modules_in(build_script("cluster_events", {"since_utc": "x", "ids": [1]})) == ()


def test_a_process_per_probe_pays_start_imports_and_command_every_time() -> None:
    sleep = FakeSleep()
    meter = CostMeter(COST, "process", sleep=sleep)
    for _ in range(3):
        meter.charge("HV-A", ["FailoverClusters", "Hyper-V"])
    assert sleep.slept == [1.33] * 3


def test_a_runspace_pays_start_and_imports_once_per_node_then_the_command() -> None:
    sleep = FakeSleep()
    meter = CostMeter(COST, "runspace", sleep=sleep)
    meter.charge("HV-A", ["Hyper-V"])
    meter.charge("hv-a", ["Hyper-V", "FailoverClusters"])  # node names are case-insensitive
    meter.charge("HV-B", [])
    assert sleep.slept == [1.33, 0.03, 1.33]


def test_a_runspace_pays_for_a_module_it_did_not_preload_on_first_use() -> None:
    sleep = FakeSleep()
    meter = CostMeter(COST, "runspace", preload=["FailoverClusters"], sleep=sleep)
    meter.charge("HV-A", [])
    meter.charge("HV-A", ["Hyper-V"])
    meter.charge("HV-A", ["Hyper-V"])
    assert sleep.slept == [0.93, 0.43, 0.03]


def test_off_costs_nothing() -> None:
    sleep = FakeSleep()
    CostMeter(OFF, "process", sleep=sleep).charge("HV-A", list(MODULES))
    assert sleep.slept == [] and not OFF.enabled


def test_topology_switch_and_overrides(tmp_path: Path) -> None:
    assert load_default_topology().windows_cost is None
    data = read_yaml_file(DEFAULT_TOPOLOGY)
    data["windows_cost"] = {"process_start_ms": 250, "module_import_ms": {"Hyper-V": 900}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    cost = load_topology(path).windows_cost
    assert cost is not None
    assert cost.process_start_s == 0.25 and cost.import_s(["hyper-v"]) == 0.9
    assert cost.command_s == WindowsCost.measured().command_s  # not given: the measured one
    data["windows_cost"] = {"command_ms": -1}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError, match="windows_cost"):
        load_topology(path)


@pytest.mark.parametrize("bad", ["yes", 3, {"process_start_ms": "fast"}, {"command_ms": 1e9}])
def test_bad_cost_values_are_refused_naming_the_place(bad: Any) -> None:
    with pytest.raises(InputError, match=r"windows_cost"):
        parse_cost(bad, "t.yaml")


def test_environment_wins_over_the_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "on")
    assert resolve_cost(None) == WindowsCost.measured()
    assert resolve_cost(COST) == COST
    monkeypatch.setenv(ENV_VAR, "off")
    assert resolve_cost(COST) == OFF
    monkeypatch.setenv(ENV_VAR, "sometimes")
    with pytest.raises(InputError, match=ENV_VAR):
        resolve_cost(None)
    monkeypatch.delenv(ENV_VAR)
    assert resolve_cost(COST) == COST and resolve_cost(None) == OFF


def test_the_in_process_driver_charges_before_it_answers() -> None:
    sleep = FakeSleep()
    cluster = LabCluster(load_default_topology(), ScaledClock(speed=20.0))
    driver = LabDriver(cluster, meter=CostMeter(COST, "runspace", sleep=sleep))
    driver.run_probe("host_info", {}, "HV-A")
    driver.run_probe("host_info", {}, "HV-A")
    assert sleep.slept == [1.33, 0.03]


def test_a_winrs_command_pays_powershell_start_and_the_imports_of_its_script(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    cost = WindowsCost(0.2, {"Hyper-V": 0.3}, 0.0)
    listener = make_listener(cost=cost)
    session = winrm.Session(
        listener.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    timings = []
    for script in ("'x'", "Import-Module -Name Hyper-V\n'x'"):
        t0 = time.perf_counter()
        assert session.run_ps(script).status_code == 0
        timings.append(time.perf_counter() - t0)
    assert timings[0] >= 0.2 and timings[1] >= 0.5
