"""Past moves rebuilt from event logs, and the history judges: FAILED only on both facts logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.audit import pastmoves
from harness.audit.objects import ClusterEvent
from harness.domain.events import EventId

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _ev(node: str, event_id: EventId, at: float, *props: str) -> ClusterEvent:
    return ClusterEvent(node, "Microsoft-Windows-FailoverClustering", int(event_id),
                        T0 + timedelta(seconds=at), props)  # fmt: skip


def _quick(
    role: str, src: str, dst: str, t: float, save: float, online_begin: float
) -> list[ClusterEvent]:
    return [
        _ev(src, EventId.ROLE_MOVING, t, role, src, dst),
        _ev(src, EventId.ROLE_OFFLINE_BEGIN, t, role),
        _ev(src, EventId.ROLE_OFFLINE, t + save, role),
        _ev(dst, EventId.ROLE_ONLINE_BEGIN, t + online_begin, role),
        _ev(dst, EventId.ROLE_ONLINE, t + online_begin + 3, role),
    ]


def test_a_good_move_is_rebuilt_with_its_downtime_and_passes() -> None:
    (move,) = pastmoves.rebuild(_quick("web", "A", "B", 0, 4, 4.5))
    assert (move.source, move.target, move.kind, move.cause) == ("A", "B", "quick", "request")
    assert move.downtime_s == 7.5
    assert pastmoves.judge_order([move]).verdict == "passed"
    assert pastmoves.judge_downtime([move]).verdict == "passed"


def test_online_before_offline_beyond_the_skew_fails_with_both_times() -> None:
    moves = pastmoves.rebuild(_quick("web", "A", "B", 0, 70, 4))
    judged = pastmoves.judge_order(moves)
    assert judged.verdict == "failed"
    (row,) = judged.contradictions
    assert (
        row["offline_utc"]
        and row["online_begin_utc"]
        and row["online_began_before_offline_by_s"] == 66
    )


def test_an_order_within_the_clock_skew_is_not_judged() -> None:
    moves = pastmoves.rebuild(_quick("web", "A", "B", 0, 6, 4))  # 2 s: two clocks may differ so
    assert pastmoves.judge_order(moves, skew_s=5).verdict == "not judged"


def test_a_move_missing_an_event_is_never_failed() -> None:
    events = [e for e in _quick("web", "A", "B", 0, 70, 4) if e.id != EventId.ROLE_OFFLINE]
    judged = pastmoves.judge_order(pastmoves.rebuild(events))
    assert judged.verdict == "not judged" and judged.figures["not_judged"] == 1


def test_events_of_another_role_or_node_are_not_taken() -> None:
    events = _quick("web", "A", "B", 0, 4, 4.5)
    events += [
        _ev("C", EventId.ROLE_ONLINE_BEGIN, 1, "web"),
        _ev("B", EventId.ROLE_OFFLINE, 60, "db"),
    ]
    (move,) = [m for m in pastmoves.rebuild(events) if m.role == "web"]
    assert move.online_begin == T0 + timedelta(seconds=4.5)
    assert pastmoves.judge_order([move]).verdict == "passed"


def test_a_live_migration_has_no_offline_events_and_is_not_judged() -> None:
    (move,) = pastmoves.rebuild([_ev("A", EventId.ROLE_MOVING, 0, "web", "A", "B")])
    assert move.kind == "not-offline"
    assert pastmoves.judge_order([move]).verdict == "not judged"


def test_a_failover_after_a_node_removal_is_listed_not_judged_as_a_move() -> None:
    events = _quick("web", "B", "A", 0, 4, 4.5)  # web now on A
    events += [
        _ev("B", EventId.NODE_REMOVED, 3600, "A"),
        _ev("C", EventId.NODE_REMOVED, 3600.5, "A"),
        _ev("C", EventId.ROLE_ONLINE_BEGIN, 3620, "web"),
        _ev("C", EventId.ROLE_ONLINE, 3650, "web"),
    ]
    moves = pastmoves.rebuild(events)
    failover = [m for m in moves if m.cause == "failover"]
    assert len(failover) == 1 and (failover[0].source, failover[0].target) == ("A", "C")
    assert failover[0].downtime_s == 50
    assert pastmoves.judge_order(moves).figures["quick_moves"] == 1


def test_moves_leaving_one_node_together_are_a_drain() -> None:
    events = _quick("web", "A", "B", 0, 4, 4.5) + _quick("db", "A", "C", 20, 8, 8.5)
    events += _quick("app", "A", "B", 86400, 4, 4.5)
    causes = {(m.role, m.cause) for m in pastmoves.rebuild(events)}
    assert causes == {("web", "drain"), ("db", "drain"), ("app", "request")}


def test_outliers_are_slow_per_gib_not_merely_big() -> None:
    events = []
    for i, (role, save) in enumerate(
        [("small", 2), ("small", 2), ("big", 8), ("big", 8), ("slow", 30)]
    ):
        events += _quick(role, "A", "B", 86400 * i, save, save + 0.5)
    moves = pastmoves.rebuild(events)
    rows = pastmoves.outliers(moves, {"small": 1.0, "big": 4.0, "slow": 1.0})
    assert [r["role"] for r in rows] == ["slow"]
    assert "slow" in pastmoves.table(rows)
