"""The schedule and move sharing: fewer outages, every claim still checked by its own scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytest_bdd

import steps.checks_nodes
import steps.common
import steps.moves  # noqa: F401
from harness.run.needs import MoveKind, moves
from harness.run.schedule import CRASH, DRAIN, REFUSED, SEVERAL, SINGLE, need_of

ROOT = Path(__file__).resolve().parents[2]


def test_a_scenario_is_classified_by_its_steps_declarations() -> None:
    crash = need_of(["a running VM on CSV storage"], ["the VM's owner node crashes"], set())
    assert crash is not None and crash.phase == CRASH
    drain = need_of(
        ["a node that owns a running VM below the move-type threshold and one at or above it"],
        ["that node is drained"],
        set(),
    )
    assert drain is not None and (drain.phase, drain.state) == (DRAIN, "Running")
    several = need_of(
        ["2 running VMs on the same node"],
        ["those VMs are quick-migrated to another node in one request"],
        set(),
    )
    assert several is not None and several.phase == SEVERAL
    refused = need_of(
        ["a running VM on CSV storage"], ["the VM is quick-migrated to that host"], set()
    )
    assert refused is not None and refused.phase == REFUSED
    one = need_of(
        ["a running VM on Cluster Disk storage with configuration version 9.0"],
        ["the VM is quick-migrated to another node"],
        {"own-move"},
    )
    assert one is not None
    assert (one.phase, one.state, one.storage, one.version) == (
        SINGLE,
        "Running",
        "Cluster Disk",
        "9.0",
    )
    assert one.own_move and one.targeting == "other" and one.method == "vm_role"
    off = need_of(["a VM in state Off"], ["the VM is quick-migrated without naming a node"], set())
    assert off is not None and (off.state, off.targeting) == ("Off", "bpn")
    group = need_of(
        ["a running VM on CSV storage"],
        ["the VM is moved to another node with Move-ClusterGroup without waiting"],
        set(),
    )
    assert group is not None and group.method == "cluster_group"
    chosen = need_of(
        ["a running VM with a pass-through disk", "a target node chosen for the VM"],
        ["the VM is quick-migrated to the chosen node"],
        set(),
    )
    assert chosen is not None and (chosen.special, chosen.targeting) == ("pass-through", "node")


def test_wording_does_not_decide_the_move_declarations_do() -> None:
    # A When step that reads like a crash but declares no move is no move at all ...
    assert (
        need_of(["a running VM on CSV storage"], ["the owner node crashes, drained"], set()) is None
    )

    # ... and a step worded like nothing known is classified by what its function declares.
    @pytest_bdd.when("the VM takes a stroll to a neighbour")
    @moves(MoveKind(CRASH))
    def stroll() -> None:
        """A test step: declared as a crash."""

    need = need_of(["a VM in state Saved"], ["the VM takes a stroll to a neighbour"], set())
    assert need is not None and (need.phase, need.state) == (CRASH, "Saved")


def test_collection_fails_for_a_scenario_whose_move_is_not_declared(tmp_path: Path) -> None:
    """A move scenario whose When step declares no move is refused before any move (exit 2)."""
    (tmp_path / "wander.feature").write_text(
        "Feature: Wandering\n"
        "  @claim:QM-04\n"
        "  Scenario: The VM wanders off\n"
        "    Given the target cluster is reachable and healthy\n"
        "    When the VM wanders off\n"
        "    Then nothing\n",
        encoding="utf-8",
    )
    (tmp_path / "test_wander.py").write_text(
        "from pytest_bdd import scenarios, then, when\n\n"
        "@when('the VM wanders off')\n"
        "def wander():\n    pass\n\n"
        "@then('nothing')\n"
        "def nothing():\n    pass\n\n"
        "scenarios('wander.feature')\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "--qm-target", "lab+sim",
         "--qm-run-dir", str(tmp_path / "run"), "-p", "no:xdist", "-p", "no:cacheprovider",
         "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out[-2000:]
    assert "The VM wanders off" in out and "@moves" in out, out[-2000:]


def _audit(tmp_path: Path, target: str = "lab+sim", *extra: str) -> tuple[Path, int, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--target",
            target,
            "--no-report",
            "--no-history",
            "--reports",
            str(tmp_path),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "journal.jsonl").is_file()]
    return run_dir, proc.returncode, proc.stdout + proc.stderr


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "evidence").glob("*.json"))]


def _moves(record: dict[str, Any]) -> list[dict[str, Any]]:
    during = record["observations"]["during"]
    return [o["value"] for o in during if o["key"] == "observed move"]


@pytest.fixture(scope="module")
def default_audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    return _audit(tmp_path_factory.mktemp("audit"))


def test_the_default_audit_needs_at_most_24_moves_and_checks_every_claim(
    default_audit: tuple[Path, int, str],
) -> None:
    run_dir, code, output = default_audit
    assert code == 0, output[-3000:]
    journal = _journal(run_dir)
    moves = [
        vm["vm"]
        for row in journal
        if row["kind"] == "action" and row["action"] == "move"
        for vm in row["vms"]
    ]
    assert len(moves) <= 24, Counter(moves)
    records = _records(run_dir)
    assert {r["claim"] for r in records if r["verdict"] == "passed"} == {
        f"QM-{n:02d}" for n in range(1, 23)
    }
    # Every VM the run touched was put back, and every one of those returns was journalled ok.
    restored = [row for row in journal if row["kind"] == "restored"]
    assert restored and all(row["ok"] for row in restored)


def test_shared_moves_are_named_in_every_scenario_that_takes_them(
    default_audit: tuple[Path, int, str],
) -> None:
    run_dir, _, _ = default_audit
    records = _records(run_dir)
    made = {m["id"]: r["scenario"] for r in records for m in _moves(r) if not m["shared"]}
    shared = [(r, m) for r in records for m in _moves(r) if m["shared"]]
    assert len(shared) >= 10, "the default audit shares moves"
    for record, move in shared:
        # A shared move was made earlier in this run by the scenario its evidence names.
        assert move["id"] in made and move["made_by"] != record["scenario"]
        assert move["vms"] == [v for v in move["vms"] if v in record["vms"]]
    # A scenario that judges what happens right after its move never takes an earlier one.
    for record in records:
        if "own-move" in record["tags"]:
            assert [m["shared"] for m in _moves(record)] == [False]


def test_a_defect_is_still_caught_by_scenarios_that_share_a_move(tmp_path: Path) -> None:
    # The lab keeps the registration on the source: every QM-03 scenario sees it, shared or not.
    topology = tmp_path / "broken.yaml"
    text = (ROOT / "harness/lab/topologies/default.yaml").read_text(encoding="utf-8")
    topology.write_text(
        text.replace("rules_off: []", "rules_off: [{rule: registration_removed_from_source}]"),
        encoding="utf-8",
    )
    run_dir, code, output = _audit(tmp_path / "runs", f"lab+sim:{topology}")
    assert code == 1, output[-3000:]
    records = _records(run_dir)
    qm03 = [r for r in records if r["claim"] == "QM-03"]
    assert qm03 and all(r["verdict"] == "failed" for r in qm03)
    assert any(m["shared"] for r in qm03 for m in _moves(r)), "a sharing scenario failed too"
