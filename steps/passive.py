"""Steps of the passive audit: static invariants of the cluster as found, and its past moves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_bdd import given, parsers, then

from harness.audit import passive, pastmoves
from harness.audit.cluster import Cluster
from harness.domain.events import HISTORY_EVENTS
from harness.run.passive import DEFAULT_SINCE, parse_since

MAX_SHOWN = 20  # contradictions quoted in a failure message (all are in the evidence)


@pytest.fixture(scope="session")
def qm_snapshot(qm_run: Any, qm_cluster: Cluster) -> passive.Snapshot:
    """The cluster as found, read once per run (probes only)."""
    return passive.read_snapshot(qm_cluster, qm_run.target.allow_vm)


@pytest.fixture(scope="session")
def qm_past(
    request: pytest.FixtureRequest, qm_cluster: Cluster, qm_snapshot: passive.Snapshot
) -> dict[str, Any]:
    """The moves the cluster made over the audit window, rebuilt from every Up node's logs."""
    now = qm_cluster.now()
    text = str(request.config.getoption("--qm-since", default=DEFAULT_SINCE))
    since = parse_since(text, now, "--since")
    nodes = [n.name for n in qm_snapshot.inventory.nodes if n.state != "Down"]
    events = qm_cluster.events(since, nodes, HISTORY_EVENTS)
    memory = {v.group.name: v.details.memory_bytes / 2**30 for v in qm_snapshot.vms if v.details}
    return {
        "since_utc": since.isoformat().replace("+00:00", "Z"),
        "until_utc": now.isoformat().replace("+00:00", "Z"),
        "nodes_read": nodes,
        "nodes_not_read": [n.name for n in qm_snapshot.inventory.nodes if n.state == "Down"],
        "events": len(events),
        "moves": pastmoves.rebuild(events),
        "memory_gib": memory,
    }


def _evidence(qm_run: Any) -> Any:
    return qm_run.current


def _attach(name: str, text: str) -> None:
    import allure

    allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)


def _conclude(verdict: str, reason: str, contradictions: Any = ()) -> None:
    """FAILED on contradictions, NOT JUDGED (a skip) when the claim could not be proven."""
    __tracebackhide__ = True
    if verdict == "failed":
        shown = json.dumps(list(contradictions)[:MAX_SHOWN], default=str, ensure_ascii=False)
        raise AssertionError(f"{reason} — observed: {shown}")
    if verdict == "not judged":
        pytest.skip(f"NOT JUDGED: {reason}")


@given("the cluster as found, read only")
def cluster_as_found(qm_run: Any, qm_snapshot: passive.Snapshot) -> None:
    ev = _evidence(qm_run)
    ev.observe("before", "cluster as found", qm_snapshot.figures())
    ev.vms.extend(v for v in qm_snapshot.figures()["vms"] if v not in ev.vms)


@then(parsers.parse('the static check "{name}" holds for every VM in scope'))
def static_check(qm_run: Any, qm_snapshot: passive.Snapshot, name: str) -> None:
    judgement = passive.judge(name, qm_snapshot)
    ev = _evidence(qm_run)
    ev.observe("after", f"static check: {name}", judgement.figures)
    if judgement.contradictions:
        ev.observe("after", "contradictions", list(judgement.contradictions))
    ev.measure("vms checked", judgement.figures.get("vms_checked", 0), "VMs")
    _conclude(judgement.verdict, judgement.reason, judgement.contradictions)


@given("the moves the cluster made in the audit window, from its event logs")
def past_moves(qm_run: Any, qm_past: dict[str, Any]) -> None:
    ev = _evidence(qm_run)
    moves = qm_past["moves"]
    ev.observe(
        "before",
        "history window",
        {k: qm_past[k] for k in ("since_utc", "until_utc", "nodes_read", "nodes_not_read")},
    )
    ev.measure("events read", qm_past["events"], "events")
    ev.measure("past moves", len(moves), "moves")
    ev.observe("before", "past moves", [m.as_dict() for m in moves])


@then("every past quick migration went offline on its source before its target brought it online")
def history_order(qm_run: Any, qm_past: dict[str, Any]) -> None:
    judgement = pastmoves.judge_order(qm_past["moves"])
    ev = _evidence(qm_run)
    ev.threshold("clock skew allowed between nodes", judgement.figures["skew_allowed_s"], "s",
                 "default")  # fmt: skip
    ev.observe("after", "order of offline and online events", judgement.figures)
    if judgement.contradictions:
        ev.observe("after", "contradictions", list(judgement.contradictions))
    _conclude(judgement.verdict, f"from history: {judgement.reason}", judgement.contradictions)


@then("every past quick migration shows its downtime, and the outliers are listed")
def history_downtime(qm_run: Any, qm_past: dict[str, Any]) -> None:
    moves = qm_past["moves"]
    judgement = pastmoves.judge_downtime(moves)
    rows = pastmoves.outliers(moves, qm_past["memory_gib"])
    ev = _evidence(qm_run)
    ev.observe("after", "downtime per move", judgement.figures)
    ev.observe("after", "outliers", rows)
    down = judgement.figures.get("downtime_s")
    if down:
        ev.measure("median downtime of past moves", down["median"], "s", detail=down)
    _attach("past moves", pastmoves.table([{**m.as_dict(), "why": ""} for m in moves], 200))
    _attach("outliers", pastmoves.table(rows) if rows else "no outlier")
    _conclude(judgement.verdict, f"from history: {judgement.reason}")


def _listed(qm_run: Any, moves: list[pastmoves.PastMove], cause: str, what: str) -> None:
    mine = [m.as_dict() for m in moves if m.cause == cause]
    ev = _evidence(qm_run)
    ev.observe("after", what, mine)
    ev.measure(what, len(mine), "moves")
    _attach(what, pastmoves.table([{**m, "why": m["kind"]} for m in mine]) if mine else "none")
    pytest.skip(
        f"NOT JUDGED: from history: {len(mine)} {what} listed in the evidence; the logs do not "
        "show what the claim is about (how each VM was moved or booted), only a move can prove it"
    )


@then("the moves made by drains are listed")
def history_drains(qm_run: Any, qm_past: dict[str, Any]) -> None:
    _listed(qm_run, qm_past["moves"], "drain", "moves made by drains")


@then("the failovers after a node left the cluster are listed")
def history_failovers(qm_run: Any, qm_past: dict[str, Any]) -> None:
    _listed(qm_run, qm_past["moves"], "failover", "failovers")
