"""capture of the served lab, then check-inventory replay:<dir>; failures recorded, never fatal."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.capture.store import load_capture
from harness.cli import main
from harness.drivers.replay import ReplayRefused
from harness.errors import HarnessError, ProbeOutputError
from harness.lab.responder import LabResponder
from harness.lab.serve import LabServer
from harness.lab.topology import load_default_topology
from harness.probes.protocol import probe_kind, probe_names
from harness.schemas import parse_probe_output
from harness.targets.fidelity import unverified_facts
from harness.targets.registry import open_target
from tests.capture.conftest import lab_secrets
from tests.targets.conftest import dead_port, write_inventory

READS = {n for n in probe_names() if probe_kind(n) == "read"}


def _calls(folder: Path) -> list[dict[str, Any]]:
    return load_capture(folder).calls


def test_lab_capture_records_every_read_probe(served_lab: LabServer, lab_capture: Path) -> None:
    capture = load_capture(lab_capture)
    assert capture.index["format"] == "qmaudit-capture/1"
    assert {c["probe"] for c in capture.calls} == READS
    assert all(c["kind"] == "read" for c in capture.calls)
    for call in capture.calls:
        assert call["outcome"] == "ok" and call["exit_code"] == 0, call["error"]
        # The raw stdout is what the node printed; the document is that text, validated.
        assert parse_probe_output(call["probe"], call["stdout"]) == call["document"]
    members = [n.name for n in served_lab.topology.nodes]
    vm_ids = {v.vm_id for v in served_lab.topology.vms}
    for probe in ("vm_details", "vm_registration", "vm_resources"):
        asked = {(c["node"], c["params"]["vm_id"]) for c in capture.calls if c["probe"] == probe}
        assert asked == {(n, i) for n in members for i in vm_ids}
    # Guests are asked on the owner of each running VM only.
    running = {v.name: v.owner for v in served_lab.topology.vms if v.state == "Running"}
    clock = {
        c["params"]["vm_name"]: c["node"] for c in capture.calls if c["probe"] == "guest_clock"
    }
    assert clock == running
    # The lab answers role events from the FailoverClustering Operational channel, never System.
    providers = [c for c in capture.calls if c["probe"] == "capture_event_providers"]
    fc = providers[0]["document"]["providers"][0]
    assert fc["name"] == "Microsoft-Windows-FailoverClustering"
    channels = {e["id"]: e["channel"] for e in fc["events"]}
    assert channels[1641] == "Microsoft-Windows-FailoverClustering/Operational"
    worker = providers[0]["document"]["providers"][1]
    assert worker["name"] == "Microsoft-Windows-Hyper-V-Worker"
    # The audit relies on no Hyper-V-Worker event, so the lab models none.
    assert worker["found"] is True and worker["events"] == []


def test_lab_capture_replays_clean(
    served_lab: LabServer, lab_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-inventory", f"replay:{lab_capture}"]) == 0
    out = capsys.readouterr().out
    assert "the audit can run" in out
    for node in served_lab.topology.nodes:
        assert f"checking node {node.name} (replay)" in out


def test_replay_driver_validates_like_winrm_and_refuses_actions(lab_capture: Path) -> None:
    target = open_target(f"replay:{lab_capture}")
    try:
        driver = target.driver
        doc = driver.run_probe("host_info", {}, driver.nodes[1])
        assert doc["node"] == driver.nodes[1]
        with pytest.raises(ReplayRefused, match="'move_vm' is of kind 'action'"):
            driver.run_probe("move_vm", {"vm_names": ["web 01"], "node": None}, driver.nodes[0])
        with pytest.raises(ReplayRefused, match="'lab_crash_node' is of kind 'lab-only'"):
            driver.run_probe("lab_crash_node", {"node": driver.nodes[0]})
        with pytest.raises(HarnessError, match=r"'path_info' on .* is not in the capture"):
            driver.run_probe("path_info", {"path": "Z:\\nowhere"})
    finally:
        target.close()


def _edit_call(folder: Path, probe: str, change: Any) -> tuple[str, str]:
    """Rewrite the captured stdout of the first call of `probe`; (node, params key) of it."""
    index = json.loads((folder / "capture.json").read_text(encoding="utf-8"))
    entry = next(e for e in index["calls"] if e["probe"] == probe and e["outcome"] == "ok")
    path = folder / entry["file"]
    record = json.loads(path.read_text(encoding="utf-8"))
    doc = json.loads(record["stdout"])
    change(doc)
    record["stdout"] = json.dumps(doc, separators=(",", ":"))
    path.write_text(json.dumps(record), encoding="utf-8")
    return entry["node"], json.dumps(entry["params"])


def test_replayed_document_that_breaks_the_schema_names_the_field(
    lab_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "edited"
    shutil.copytree(lab_capture, folder)

    def break_state(doc: dict[str, Any]) -> None:
        doc["nodes"][0]["state"] = 7

    node, _ = _edit_call(folder, "cluster_inventory", break_state)
    target = open_target(f"replay:{folder}")
    with pytest.raises(ProbeOutputError) as caught:
        target.driver.run_probe("cluster_inventory", {}, node)
    assert caught.value.json_path == "$.nodes[0].state"
    assert main(["check-inventory", f"replay:{folder}"]) == 1
    out = capsys.readouterr().out
    assert "invalid output at $.nodes[0].state" in out


class _BreakingResponder(LabResponder):
    """The lab, except that one node's host_info reports its build as a number."""

    def answer(self, node: str, probe: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        doc = super().answer(node, probe, params)
        if probe == "host_info" and node == "HV-B":
            doc = copy.deepcopy(doc)
            doc["os_build"] = 20348
        return doc


def test_capture_records_the_schema_error_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.lab.clock import ScaledClock
    from harness.lab.model import LabCluster

    topology = load_default_topology()
    responder = _BreakingResponder(LabCluster(topology, ScaledClock(speed=20.0)))
    with LabServer(topology, state_dir=str(tmp_path / "s"), responder=responder) as server:
        for key, value in lab_secrets(server).items():
            monkeypatch.setenv(key, value)
        out = tmp_path / "cap"
        assert main(["capture", "--target", str(server.inventory_path), "--out", str(out)]) == 1
    index = json.loads((out / "capture.json").read_text(encoding="utf-8"))
    bad = [e for e in index["calls"] if e["outcome"] != "ok"]
    assert [(e["probe"], e["node"]) for e in bad] == [("host_info", "HV-B")]
    assert bad[0]["schema_error"]["json_path"] == "$.os_build"
    assert "is not of type 'string'" in bad[0]["schema_error"]["reason"]
    record = json.loads((out / bad[0]["file"]).read_text(encoding="utf-8"))
    assert '"os_build":20348' in record["stdout"] and record["document"] is None
    assert index["summary"]["invalid"] == 1
    capsys.readouterr()
    assert main(["check-inventory", f"replay:{out}"]) == 1
    text = capsys.readouterr().out
    assert "HV-B: probe 'host_info' returned invalid output at $.os_build" in text


def test_unreachable_node_is_recorded_and_capture_goes_on(
    lab_inventory_doc: dict[str, Any],
    lab_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = copy.deepcopy(lab_inventory_doc)
    doc["defaults"]["retries"] = 0
    dead = doc["nodes"][1]["name"]
    doc["nodes"][1]["port"] = dead_port()
    path = write_inventory(tmp_path / "dead.yaml", doc)
    out = tmp_path / "cap"
    assert main(["capture", "--target", str(path), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"{dead}: unreachable; going on with the other nodes" in printed
    index = json.loads((out / "capture.json").read_text(encoding="utf-8"))
    status = {n["name"]: n["status"] for n in index["nodes"]}
    assert status[dead].startswith("unreachable: transport error")
    assert all(s == "ok" for n, s in status.items() if n != dead)
    calls = _calls(out)
    assert [c["probe"] for c in calls if c["node"] == dead] == ["host_info"]
    alive = {c["probe"] for c in calls if c["node"] == doc["nodes"][0]["name"]}
    assert {"vm_details", "capture_vm_properties", "cluster_events"} <= alive
    assert main(["check-inventory", f"replay:{out}"]) == 1
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [dead, f"replay:{out}", "NO", "-", "-", "-", "FAIL"] in rows


def test_no_secret_in_any_captured_file(
    lab_inventory_doc: dict[str, Any],
    lab_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guest_password = "Gu3st-Secret-" + "x7Q"
    monkeypatch.setenv("QM_TEST_GUEST_USER", "LAB\\guest")
    monkeypatch.setenv("QM_TEST_GUEST_PASSWORD", guest_password)
    doc = copy.deepcopy(lab_inventory_doc)
    doc["guest_credentials"] = {
        "username_env": "QM_TEST_GUEST_USER",
        "password_env": "QM_TEST_GUEST_PASSWORD",
    }
    path = write_inventory(tmp_path / "guest.yaml", doc)
    out = tmp_path / "cap"
    assert main(["capture", "--target", str(path), "--out", str(out)]) == 0
    secrets = [guest_password, *(v for k, v in lab_env.items() if "PASSWORD" in k)]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 100
    for file in files:
        data = file.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, file
    guest_calls = [c for c in _calls(out) if c["probe"] == "guest_clock"]
    assert guest_calls and all(set(c["params"]) == {"vm_name"} for c in guest_calls)


def test_capture_refuses_action_probes_and_writes_nothing(
    served_lab: LabServer,
    lab_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inventory = str(served_lab.inventory_path)
    for probe, kind in (("move_vm", "action"), ("lab_crash_node", "lab-only")):
        out = tmp_path / probe
        args = ["capture", "--target", inventory, "--out", str(out), "--probe", probe]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"capture is read-only: probe {probe!r} is of kind {kind!r}" in err
        assert not out.exists()


def test_bad_input_exit_2(
    served_lab: LabServer,
    lab_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x", encoding="utf-8")
    inventory = str(served_lab.inventory_path)
    assert main(["capture", "--target", inventory, "--out", str(used)]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert main(["capture", "--target", "lab", "--out", str(tmp_path / "n")]) == 2
    assert "capture needs an inventory file" in capsys.readouterr().err
    assert main(["check-inventory", f"replay:{tmp_path / 'missing'}"]) == 2
    assert "not a qmaudit capture: no capture.json" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "capture.json").write_text('{"format": "other"}', encoding="utf-8")
    assert main(["check-inventory", f"replay:{broken}"]) == 2
    err = capsys.readouterr().err
    assert "capture.json: $" in err and "Traceback" not in err


def test_check_inventory_counts_then_lists_the_unverified_ledger_rows(
    lab_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = unverified_facts()
    assert rows, "the ledger has no unverified row: this test would check nothing"
    # By default one line counts them and says where to read them; the verdict comes last.
    assert main(["check-inventory", "--target", f"replay:{lab_capture}"]) == 0
    out = capsys.readouterr().out.splitlines()
    printed = [line for line in out if "unverified on Windows" in line]
    assert len(printed) == 1 and f"{len(rows)} fact(s)" in printed[0], printed
    assert "check-inventory --all" in printed[0]
    assert out.index(printed[0]) < len(out) - 1 and "unverified" not in out[-1]
    # --all lists every one of them.
    assert main(["check-inventory", "--target", f"replay:{lab_capture}", "--all"]) == 0
    printed = [
        line for line in capsys.readouterr().out.splitlines() if "unverified on Windows" in line
    ]
    assert printed[1:] == [f"unverified on Windows: {row.fact}" for row in rows]
