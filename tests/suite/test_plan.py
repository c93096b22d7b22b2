"""`qmaudit plan`: the schedule is the journal of the suite run on the twin, shown and priced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.audit.journal import JOURNAL_FILE, read_journal
from harness.audit.tally import tally_journal
from harness.cli import main
from harness.suite.plan import Plan, Pricer, compute_plan, schedule_table, summary_line, vm_table
from harness.targets.twin import Twin, TwinPolicy
from tests.audit.test_tally import JOURNAL

SELECTION = "QM-17 or QM-18"  # a two-VM move, a drain, their restores


def _twin_doc() -> dict[str, Any]:
    return {
        "cluster": {"name": "C", "move_type_threshold": 2000},
        "nodes": [{"name": n, "local_disks": []} for n in ("N1", "N2", "N3")],
        "storage": {"csvs": [{"path": "C:\\S", "read_mb_s": 1000, "write_mb_s": 500}]},
        "vms": [
            {"name": "a", "memory_mib": 2048, "owner": "N1", "storage": "C:\\S", "priority": 3000},
            {"name": "b", "memory_mib": 1024, "owner": "N1", "storage": "C:\\S"},
            {"name": "c", "memory_mib": 512, "owner": "N1", "storage": "C:\\S", "priority": 1000},
            {"name": "off", "memory_mib": 4096, "owner": "N1", "storage": "C:\\S"},
            {"name": "x", "memory_mib": 1024, "owner": "N1", "storage": "C:\\S"},
        ],
    }


def _plan() -> Plan:
    pricer = Pricer(_twin_doc(), failover_timeout_s=120.0)
    tally = tally_journal(JOURNAL, pricer)
    return Plan(
        target="t",
        twin=Twin(_twin_doc(), TwinPolicy("t", ("*",))),
        tally=tally,
        scenarios=[f"S{d.index}" for d in tally.disruptions],
        memory={v: pricer.memory_bytes(v) for v in pricer.vms},
        skipped=[],
        problems=[],
        twin_journal=JOURNAL,
    )


def test_the_pricer_follows_memory_throughput_state_and_move_type() -> None:
    price = Pricer(_twin_doc(), failover_timeout_s=120.0)
    gib2 = 2 * 2**30
    assert price("move", "a", "Running").downtime_s == pytest.approx(gib2 / 500e6 + gib2 / 1000e6)
    assert not price("move", "off", "Off").outage
    assert not price("move", "a", "Saved").outage
    live = price("drain", "a", "Running")  # priority 3000 >= MoveTypeThreshold 2000
    assert not live.outage and live.downtime_s == 0.0
    quick = price("drain", "c", "Running")  # priority 1000: quick migration
    assert quick.outage and quick.downtime_s == pytest.approx(2**29 / 500e6 + 2**29 / 1000e6)
    assert price("crash", "b", "Running").downtime_s == 120.0
    assert price("move", "ghost", "Running").downtime_s is None


def test_the_schedule_lists_every_action_in_journal_order() -> None:
    plan = _plan()
    lines = schedule_table(plan).splitlines()
    assert lines[0].split()[:6] == ["#", "scenario", "action", "VM", "from", "to"]
    body = [ln.split() for ln in lines[1:]]
    assert len(body) == len(plan.tally.disruptions) == 13
    assert body[0][:6] == ["1", "S1", "move", "a", "N1", "N2"]
    assert body[2][-1] == "yes"  # a's restore
    assert "best possible node (N3)" in lines[5]  # b went where the cluster chose
    assert "cluster decides (N3)" in lines[7]  # c, drained
    assert "2.00 GiB" in lines[1] and "6.4 s" in lines[1]  # 2 GiB at 500 + 1000 MB/s
    assert lines[8].split()[2:5] == ["resume", "-", "N1"]


def test_per_vm_outages_and_the_summary_line() -> None:
    plan = _plan()
    rows = {ln.split()[0]: ln.split() for ln in vm_table(plan).splitlines()[1:]}
    # a: moved, restored, drained live: 2 outages of 6.4 s each.
    assert rows["a"][1:7] == ["2", "1", "1", "0", "2", "12.9"]
    # c: quick-migrated by the drain, then crashed (cold boot bound 120 s).
    assert rows["c"][1:7] == ["0", "0", "1", "1", "2", "121.6"]
    assert rows["off"][5] == "0"
    line = summary_line(plan.tally)
    assert line.startswith("8 move(s) (2 restoring), 1 drain(s), 1 crash(es), 5 VM(s) touched")
    assert f"at most {plan.tally.max_outages} per VM" in line
    assert f"expected downtime {plan.tally.downtime_s:.1f} s" in line
    doc = plan.as_dict()
    assert doc["summary"]["moves"] == 8 and len(doc["actions"]) == 13
    assert doc["actions"][0]["scenario"] == "S1" and doc["actions"][0]["memory_bytes"] == 2**31


def test_the_plan_of_a_lab_is_what_the_run_then_does(tmp_path: Path) -> None:
    plan = compute_plan("lab+sim", markers=SELECTION)
    assert plan.tally.moves >= 4 and plan.tally.drains == 1 and plan.tally.restores >= 2
    assert not plan.problems, plan.problems
    rc = main(["run", "--target", "lab+sim", "-m", SELECTION, "--no-report", "--no-history",
               "--reports", str(tmp_path)])  # fmt: skip
    assert rc == 0
    (journal,) = tmp_path.glob(f"*/{JOURNAL_FILE}")
    done = tally_journal(read_journal(journal))

    def schedule(disruptions: Any) -> list[tuple[Any, ...]]:
        return [(d.action, d.vm, d.source, d.to, d.state, d.restoring) for d in disruptions]

    assert schedule(done.disruptions) == schedule(plan.tally.disruptions)
    assert done.summary()["moves"] == plan.tally.summary()["moves"]


def test_qmaudit_plan_prints_the_tables_and_writes_plan_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["plan", "--target", "lab+sim", "-m", SELECTION, "--reports", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    (path,) = tmp_path.glob("*/plan.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["summary"]["moves"] == sum(1 for a in doc["actions"] if a["action"] == "move")
    assert {"move", "drain", "resume"} <= {a["action"] for a in doc["actions"]}
    assert "qmaudit plan: " + f"{doc['summary']['moves']} move(s)" in out
    assert "expected downtime" in out and "outages" in out
    # The twin's topology, policy and journal are kept beside the plan.
    assert (path.parent / "twin" / "topology.yaml").is_file()
    assert read_journal(path.parent / "twin" / JOURNAL_FILE)
