"""capture --pseudonymise: every name replaced in every file, consistently, and it still replays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.capture.store import load_capture
from harness.cli import main
from harness.lab.serve import LabServer


def _names(served: LabServer) -> list[str]:
    t = served.topology
    names = [t.cluster.name, *(n.name for n in t.nodes), *(h.name for h in t.non_members)]
    names += [v.name for v in t.vms]
    names += ["FS1"]  # the SMB server in the default topology's UNC paths
    return names


def _files_containing(folder: Path, name: str) -> list[str]:
    needle = name.casefold()
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and needle in p.read_text(encoding="utf-8").casefold()
    ]


@pytest.fixture(scope="module")
def pseudo_capture(served_lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.capture.conftest import lab_secrets

    out = tmp_path_factory.mktemp("pseudo") / "cap"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in lab_secrets(served_lab).items():
            patch.setenv(key, value)
        args = ["capture", "--target", str(served_lab.inventory_path), "--out", str(out)]
        assert main([*args, "--pseudonymise"]) == 0
    return out


def test_no_original_name_in_any_file(
    served_lab: LabServer, pseudo_capture: Path, lab_capture: Path
) -> None:
    for name in _names(served_lab):
        # The plain capture has them (so this check can fail); the pseudonymised one has none.
        assert _files_containing(lab_capture, name), name
        assert _files_containing(pseudo_capture, name) == [], name
    assert all("node-" in p.name for p in (pseudo_capture / "calls").iterdir())


def test_pseudonyms_are_consistent_across_files(
    served_lab: LabServer, pseudo_capture: Path
) -> None:
    capture = load_capture(pseudo_capture)
    nodes = [n["name"] for n in capture.index["nodes"]]
    assert nodes == [n["name"] for n in capture.inventory["nodes"]]
    assert nodes == ["node-1", "node-2", "node-3"]
    assert capture.index["cluster"] == capture.inventory["cluster"] == "cluster-1"
    for call in capture.calls:
        raw = json.loads(call["stdout"])
        assert raw == call["document"]
        assert raw["node"] == call["node"] and call["node"] in nodes
    # One VM, one name: the same VMId has the same pseudonym in every document of every node.
    seen: dict[str, set[str]] = {}

    def note(vm_id: str, name: str) -> None:
        seen.setdefault(vm_id, set()).add(name)

    for call in capture.calls:
        doc: dict[str, Any] = call["document"]
        for group in doc.get("vm_groups") or []:
            note(group["vm_id"], group["vm_name"])
        if call["probe"] == "vm_details" and doc["found"]:
            note(doc["vm"]["id"], doc["vm"]["name"])
        for vm in doc.get("vms") or []:
            if isinstance(vm, dict) and vm.get("found"):
                props = {p["name"]: p["value"] for p in vm["properties"]}
                note(vm["vm_id"], props["Name"])
    assert len(seen) == len(served_lab.topology.vms)
    assert all(len(names) == 1 and next(iter(names)).startswith("vm-") for names in seen.values())
    assert len({next(iter(n)) for n in seen.values()}) == len(seen)


def test_pseudonymised_capture_replays_clean(
    pseudo_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-inventory", f"replay:{pseudo_capture}"]) == 0
    out = capsys.readouterr().out
    assert "the audit can run against 'cluster-1'" in out
    assert "vm-1 " in out and "node-1 " in out


def test_no_mac_or_guid_of_the_plain_capture_survives(
    pseudo_capture: Path, lab_capture: Path
) -> None:
    import re

    shapes = re.compile(
        r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}|(?:[0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2}"
    )

    def found(folder: Path) -> set[str]:
        return {
            m.casefold()
            for p in folder.rglob("*")
            if p.is_file()
            for m in shapes.findall(p.read_text(encoding="utf-8"))
        }

    plain = found(lab_capture)
    assert plain, "the lab capture holds VM ids and MACs: this check can fail"
    assert plain & found(pseudo_capture) == set()
