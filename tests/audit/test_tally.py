"""tally_journal: a journal turned into moves, restores, drains, crashes and outages per VM."""

from __future__ import annotations

from typing import Any

from harness.audit.tally import Cost, tally_journal


def _action(
    action: str,
    vms: list[tuple[str, str, str]],
    to: str | None = None,
    restoring: bool = False,
    nodes: list[str] | None = None,
    writer: str = "main",
) -> dict[str, Any]:
    return {
        "kind": "action",
        "writer": writer,
        "id": f"{action}-{len(vms)}",
        "action": action,
        "vms": [{"vm": v, "owner": o, "state": s} for v, o, s in vms],
        "nodes": nodes or [],
        "to": to,
        "restoring": restoring,
    }


JOURNAL: list[dict[str, Any]] = [
    {"kind": "header", "run_id": "r"},
    _action("move", [("a", "N1", "Running"), ("b", "N1", "Running")], to="N2"),
    {"kind": "done", "id": "move-2", "ok": True},
    _action("move", [("a", "N2", "Running")], to="N1", restoring=True),
    _action("move", [("off", "N1", "Off")], to="N2"),
    _action("move", [("b", "N2", "Running")], to=None),  # the cluster chooses
    _action("drain", [("a", "N1", "Running"), ("c", "N1", "Running")], nodes=["N1"]),
    _action("resume", [], nodes=["N1"], restoring=True),
    _action("crash", [("c", "N3", "Running")], nodes=["N3"], writer="gw1"),
    _action("power_on", [], nodes=["N3"], restoring=True, writer="gw1"),
    _action("move", [("b", "N3", "Running")], to="N1", restoring=True),
    _action("move", [("x", "N1", "Running")], to="OUTSIDER"),
    _action("move", [("x", "N1", "Running")], to="N2"),
]


def test_moves_count_each_vm_of_a_request_once_restores_included() -> None:
    tally = tally_journal(JOURNAL)
    assert tally.moves == 8  # a, b | a (restore) | off | b | b (restore) | x | x
    assert tally.restores == 2
    assert (tally.vms["a"].moves, tally.vms["a"].restores) == (2, 1)
    assert (tally.vms["b"].moves, tally.vms["b"].restores) == (3, 1)


def test_drains_and_crashes_count_per_action_and_as_outages_per_vm() -> None:
    tally = tally_journal(JOURNAL)
    assert (tally.drains, tally.crashes, tally.resumes, tally.power_ons) == (1, 1, 1, 1)
    assert tally.vms["c"].drains == 1 and tally.vms["c"].crashes == 1
    assert tally.vms["c"].moves == 0  # a drain's quick migration is no move of the budget
    assert tally.vms["c"].outages == 2


def test_an_off_vm_moves_without_an_outage() -> None:
    tally = tally_journal(JOURNAL)
    assert tally.vms["off"].moves == 1 and tally.vms["off"].outages == 0


def test_a_move_the_cluster_refused_is_no_outage() -> None:
    # x was asked to OUTSIDER and was still on N1 at its next action: it never left.
    tally = tally_journal(JOURNAL)
    first = next(d for d in tally.disruptions if d.vm == "x")
    assert not first.outage and "did not happen" in first.basis
    assert tally.vms["x"].outages == 1 and tally.vms["x"].moves == 2


def test_where_the_cluster_sent_a_vm_is_read_from_its_next_action() -> None:
    tally = tally_journal(JOURNAL)
    chosen = next(d for d in tally.disruptions if d.vm == "b" and d.to is None)
    assert chosen.landed == "N3"
    drained = [d for d in tally.disruptions if d.action == "drain"]
    assert [d.landed for d in drained] == [None, "N3"]


def test_node_actions_are_listed_in_order() -> None:
    tally = tally_journal(JOURNAL)
    actions = [d.action for d in tally.disruptions]
    assert actions == [
        "move", "move", "move", "move", "move", "drain", "drain", "resume",
        "crash", "power_on", "move", "move", "move",
    ]  # fmt: skip
    resume = tally.disruptions[7]
    assert resume.vm is None and resume.source == "N1" and resume.restoring


def test_the_estimator_prices_outages_and_the_totals_add_up() -> None:
    def estimate(action: str, vm: str, state: str | None) -> Cost:
        if action == "drain" and vm == "a":
            return Cost(False, 0.0, "live")
        return Cost(True, {"move": 10.0, "drain": 4.0, "crash": 100.0}[action], action)

    tally = tally_journal(JOURNAL, estimate)
    assert tally.vms["a"].outages == 2 and tally.vms["a"].downtime_s == 20.0
    assert tally.vms["c"].downtime_s == 104.0
    # The off VM's move is priced by the estimator here: it decides, not the journal.
    assert tally.vms["off"].downtime_s == 10.0
    assert tally.downtime_s == sum(v.downtime_s for v in tally.vms.values())
    assert tally.max_outages == max(v.outages for v in tally.vms.values())
    summary = tally.summary()
    assert summary["moves"] == 8 and summary["vms_touched"] == 5


def test_without_an_estimator_outage_lengths_are_unknown() -> None:
    tally = tally_journal(JOURNAL)
    assert tally.vms["a"].unpriced_outages == tally.vms["a"].outages == 3
    assert tally.downtime_s == 0.0


def test_an_empty_journal_is_an_empty_tally() -> None:
    tally = tally_journal([{"kind": "header"}])
    assert tally.moves == 0 and not tally.disruptions and tally.max_outages == 0
