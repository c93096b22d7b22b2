"""check-inventory against a lab served over WinRM: the table, and each reason it says no."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.lab.serve import PASSWORD_ENV, LabServer
from harness.targets.preflight import render, run_preflight
from tests.targets.conftest import dead_port, write_inventory


def _run(path: Path) -> tuple[Any, str]:
    out = io.StringIO()
    result = run_preflight(str(path), out)
    return result, out.getvalue() + render(result)


def test_lab_inventory_passes(
    served_lab: LabServer, lab_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-inventory", str(served_lab.inventory_path)]) == 0
    out = capsys.readouterr().out
    for node in (n.name for n in served_lab.topology.nodes):
        assert f"checking node {node} (" in out
    assert "the audit can run" in out
    assert "PowerShell Direct" in out and "time sync" in out


def test_every_vm_and_node_is_checked(served_lab: LabServer, lab_env: dict[str, str]) -> None:
    assert served_lab.inventory_path is not None
    result, _ = _run(served_lab.inventory_path)
    assert result.ok
    assert [r.node for r in result.nodes] == [n.name for n in served_lab.topology.nodes]
    assert all(r.member == "ok" and r.modules == "ok" for r in result.nodes)
    assert sorted(r.vm for r in result.vms) == sorted(vm.name for vm in served_lab.topology.vms)
    running = [r for r in result.vms if r.state == "Running"]
    assert running and all(r.ps_direct == "ok" for r in running)
    assert any(r.time_sync.startswith("off") for r in result.vms)


def _variant(doc: dict[str, Any], tmp_path: Path, **changes: Any) -> Path:
    new = copy.deepcopy(doc)
    new.update(changes)
    return write_inventory(tmp_path / "variant.yaml", new)


def test_wrong_cluster_name(
    lab_inventory_doc: dict[str, Any], lab_env: dict[str, str], tmp_path: Path
) -> None:
    result, _ = _run(_variant(lab_inventory_doc, tmp_path, cluster="OTHERCLU"))
    assert not result.ok
    assert all(r.member.startswith("NO") for r in result.nodes)


def test_never_list_and_unmatched_allow(
    lab_inventory_doc: dict[str, Any], lab_env: dict[str, str], tmp_path: Path
) -> None:
    vms = {"allow": ["web*", "ghost-vm"], "never": ["web 02", "nothing-here"]}
    result, out = _run(_variant(lab_inventory_doc, tmp_path, vms=vms))
    assert not result.ok
    assert "'ghost-vm' matches no clustered VM" in out and "the audit can NOT run" in out
    assert [r.vm for r in result.vms] == ["web 01"]
    assert any("'ghost-vm' matches no clustered VM" in p for p in result.problems)
    assert any("nothing-here" in n for n in result.notes)


def test_dead_port_is_unreachable(
    lab_inventory_doc: dict[str, Any], lab_env: dict[str, str], tmp_path: Path
) -> None:
    doc = copy.deepcopy(lab_inventory_doc)
    doc["defaults"]["retries"] = 0
    doc["nodes"][1]["port"] = dead_port()
    path = write_inventory(tmp_path / "dead.yaml", doc)
    result, _ = _run(path)
    assert not result.ok
    rows = {r.node: r for r in result.nodes}
    dead = rows[doc["nodes"][1]["name"]]
    assert dead.reachable == "NO" and dead.problems
    assert rows[doc["nodes"][0]["name"]].ok
    assert main(["check-inventory", str(path)]) == 1


def test_wrong_password_fails_auth(
    served_lab: LabServer, lab_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "definitely-wrong-pw-42")
    assert served_lab.inventory_path is not None
    result, _ = _run(served_lab.inventory_path)
    assert not result.ok
    assert all(r.reachable == "yes" and r.auth == "FAILED" for r in result.nodes)
    assert not result.vms
