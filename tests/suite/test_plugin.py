"""The plugin end to end on a small lab: skips are recorded as skips, evidence is schema-valid."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# A repr of an object rather than a value: `Name(field=…)` or `<module.Name object at 0x…>`.
INTERNAL_REPR = re.compile(r"^[A-Za-z_][\w.]*\(|^<[\w.]+ object at 0x")

TOPOLOGY = r"""
cluster: {name: "TINY 'Ω'", move_type_threshold: 2000, network_mb_s: 1250}
nodes:
  - {name: "N1", program_data: 'C:\ProgramData',
     local_disks: [{path: 'C:\', read_mb_s: 300, write_mb_s: 200}]}
  - {name: "N-2", program_data: 'C:\ProgramData',
     local_disks: [{path: 'C:\', read_mb_s: 300, write_mb_s: 200}]}
storage:
  csvs:
    - {name: 'Cluster Disk 1', path: 'C:\ClusterStorage\Volume1', read_mb_s: 900,
       write_mb_s: 700}
vms:
  - {name: "vm 'a'", memory_mib: 1024, config_version: '9.0', state: Running, owner: "N1",
     storage: 'C:\ClusterStorage\Volume1', priority: 2000}
rules_off: []
"""


def _run(
    topology_text: str, tmp_path: Path, target: str, selection: list[str]
) -> list[dict[str, Any]]:
    topology = tmp_path / "tiny.yaml"
    topology.write_text(topology_text, encoding="utf-8")
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "features"),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            f"--qm-target={target}:{topology}",
            "--qm-lab-speed=40",
            f"--qm-run-dir={run_dir}",
            f"--alluredir={run_dir / 'allure-results'}",
            *selection,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(p.read_text()) for p in sorted((run_dir / "evidence").glob("*.json"))]


def test_crash_avoids_a_node_with_a_paused_vm(tmp_path: Path) -> None:
    # A power loss would turn the Paused VM into a running one that cannot be paused again:
    # the crash scenario must crash a node without Paused VMs and leave the cluster as found.
    third = """  - {name: "N3", program_data: 'C:\\ProgramData',
     local_disks: [{path: 'C:\\', read_mb_s: 300, write_mb_s: 200}]}
storage:"""
    paused = """rules_off: []"""
    text = TOPOLOGY.replace("storage:", third, 1).replace(
        "rules_off: []",
        """  - {name: "held", memory_mib: 512, config_version: '9.0', state: Paused, owner: "N1",
     storage: 'C:\\ClusterStorage\\Volume1', priority: 2000}
"""
        + paused,
    )
    records = _run(text, tmp_path, "lab+sim", ["-m", "QM-19"])
    assert [(r["claim"], r["verdict"]) for r in records] == [("QM-19", "passed")]


def test_skips_and_passes_are_recorded(tmp_path: Path) -> None:
    records = _run(TOPOLOGY, tmp_path, "lab+inproc", ["-k", "SMB or QM-13 or Resource"])
    verdicts = {(r["claim"], r["verdict"]) for r in records}
    # No SMB share in this lab: those scenarios are skipped, with the reason, never "passed".
    smb = [r for r in records if r["params"].get("storage") == "SMB 3"]
    assert smb and all(r["verdict"] == "skipped" and "SMB 3" in r["failure"] for r in smb)
    assert ("QM-13", "passed") in verdicts
    qm13 = next(r for r in records if r["claim"] == "QM-13")
    assert qm13["target"]["cluster"] == "TINY 'Ω'"
    assert qm13["vms"] == ["vm 'a'"] and qm13["transcript"]


def test_allure_step_parameters_stay_small(tmp_path: Path) -> None:
    # allure-pytest-bdd records each step argument's repr: the scenario state must not drag the
    # run, the catalog and the probe transcripts into every step (it once made 13 MB results).
    _run(TOPOLOGY, tmp_path, "lab+sim", ["-m", "QM-06 or QM-07"])
    results = list((tmp_path / "run" / "allure-results").glob("*-result.json"))
    assert results
    seen = set()
    for path in results:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for step in doc["steps"]:
            for parameter in step.get("parameters", []):
                seen.add(parameter["name"])
                value = parameter["value"]
                assert len(value) < 300, (step["name"], value[:200])
                # No internal object as a parameter: no fixture (scn, …), no object repr.
                assert not INTERNAL_REPR.search(value), (step["name"], parameter["name"], value)
        assert path.stat().st_size < 100_000
    # The step's own values stay: the example's state is a plain parameter of its steps.
    assert "state" in seen and "scn" not in seen
