"""Past moves: the moves a cluster already made, rebuilt from its own event logs, and their judges.

A passive audit makes no move; it reads what the cluster logged (harness/audit/events.py) over
the audit window and rebuilds each past move of a role: the node it left and the node it went
to (event 1641), when it began and finished going offline on the source (1203, 1204) and coming
online on the target (1200, 1201), role failures (1205) in between, and the failovers that
followed a node's removal from membership (1135) without any move request.

Judging rules (a FAILED verdict must never be wrong): events of two nodes carry two clocks, so
an order is a contradiction only when both events are in the log and they are out of order by
more than the allowed clock skew; anything less is not judged, with the figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.audit.objects import ClusterEvent
from harness.domain.events import EventId

# How far apart two nodes' clocks may be (domain members keep time with W32Time; the audit
# allows a few seconds before calling an order across nodes a contradiction).
DEFAULT_SKEW_S = 5.0
# A move's events are looked for this long after its 1641 (or a node removal's 1135).
MOVE_WINDOW_S = 1800.0
# Moves leaving one node this close together are taken as one node-wide operation (a drain):
# no event id of a drain is publicly documented, so the cause is inferred (docs/passive.md).
DRAIN_GAP_S = 120.0
# With no earlier event placing a role on a lost node, only a role starting elsewhere this soon
# after the node's removal is taken as its failover (the source is then inferred).
FAILOVER_S = 600.0
# A move is an outlier when its downtime exceeds this many times the median downtime.
OUTLIER_FACTOR = 3.0


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


@dataclass
class PastMove:
    """One past move of a role as the logs show it; None where the log holds no such event."""

    role: str
    source: str | None
    target: str
    started: datetime
    cause: str = "request"  # "request", "drain" (inferred) or "failover" (after a 1135)
    offline_begin: datetime | None = None
    offline: datetime | None = None
    online_begin: datetime | None = None
    online: datetime | None = None
    failures: list[datetime] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """quick (went offline on the source), failover, or not-offline (a live migration or a
        move whose offline events the log does not hold)."""
        if self.cause == "failover":
            return "failover"
        return "quick" if self.offline_begin or self.offline else "not-offline"

    @property
    def downtime_s(self) -> float | None:
        """Offline begins on the source to online on the target (the cluster's own times)."""
        start = self.offline_begin or self.offline
        if self.cause == "failover":
            start = self.started
        if start is None or self.online is None:
            return None
        return (self.online - start).total_seconds()

    @property
    def complete(self) -> bool:
        return self.online is not None and (self.cause == "failover" or self.kind == "quick")

    def as_dict(self) -> dict[str, Any]:
        down = self.downtime_s
        return {
            "role": self.role,
            "source": self.source,
            "target": self.target,
            "cause": self.cause,
            "kind": self.kind,
            "started_utc": _iso(self.started),
            "offline_begin_utc": _iso(self.offline_begin),
            "offline_utc": _iso(self.offline),
            "online_begin_utc": _iso(self.online_begin),
            "online_utc": _iso(self.online),
            "failures_utc": [_iso(t) for t in self.failures],
            "downtime_s": None if down is None else round(down, 3),
        }


def _first(
    events: Sequence[ClusterEvent], event_id: int, node: str | None, start: datetime, end: datetime
) -> datetime | None:
    for e in events:
        if e.id != event_id or not (start <= e.time < end):
            continue
        if node is None or e.node.casefold() == node.casefold():
            return e.time
    return None


def rebuild(events: Iterable[ClusterEvent], window_s: float = MOVE_WINDOW_S) -> list[PastMove]:
    """Every past move the events show, oldest first (requests, inferred drains, failovers)."""
    ordered = sorted(events, key=lambda e: e.time)
    window = timedelta(seconds=window_s)
    by_role: dict[str, list[ClusterEvent]] = {}
    for e in ordered:
        if e.id != EventId.NODE_REMOVED and e.role is not None:
            by_role.setdefault(e.role, []).append(e)
    moves: list[PastMove] = []
    for role, mine in by_role.items():
        starts = [e for e in mine if e.id == EventId.ROLE_MOVING]
        for i, e in enumerate(starts):
            info = e.move
            source = info.source or e.node
            end = starts[i + 1].time if i + 1 < len(starts) else e.time + window
            end = min(end, e.time + window)
            move = PastMove(role, source, info.target, e.time)
            move.offline_begin = _first(mine, EventId.ROLE_OFFLINE_BEGIN, source, e.time, end)
            move.offline = _first(mine, EventId.ROLE_OFFLINE, source, e.time, end)
            move.online_begin = _first(mine, EventId.ROLE_ONLINE_BEGIN, info.target, e.time, end)
            move.online = _first(mine, EventId.ROLE_ONLINE, info.target, e.time, end)
            move.failures = [
                f.time
                for f in mine
                if f.id == EventId.ROLE_FAILED_ONLINE_OFFLINE and e.time <= f.time < end
            ]
            moves.append(move)
    moves += _failovers(ordered, by_role, moves, window)
    _mark_drains(moves)
    return sorted(moves, key=lambda m: m.started)


def _removals(ordered: Sequence[ClusterEvent]) -> list[tuple[str, datetime]]:
    """Node removals (1135), one per node and minute (every surviving node logs its own)."""
    out: list[tuple[str, datetime]] = []
    for e in ordered:
        if e.id != EventId.NODE_REMOVED or not e.properties:
            continue
        node = e.properties[0]
        if any(
            n.casefold() == node.casefold() and abs((e.time - t).total_seconds()) < 60
            for n, t in out
        ):
            continue
        out.append((node, e.time))
    return out


def _failovers(
    ordered: Sequence[ClusterEvent],
    by_role: dict[str, list[ClusterEvent]],
    requested: Sequence[PastMove],
    window: timedelta,
) -> list[PastMove]:
    """Roles that came online elsewhere after their node left membership, with no move request."""
    out: list[PastMove] = []
    for lost, at in _removals(ordered):
        for role, mine in by_role.items():
            before = [
                e
                for e in mine
                if e.time < at and e.id in (EventId.ROLE_ONLINE, EventId.ROLE_MOVING)
            ]
            inferred = not before
            if before:
                last = before[-1]
                owner = last.move.target if last.id == EventId.ROLE_MOVING else last.node
                if owner.casefold() != lost.casefold():
                    continue
            if any(m.role == role and at <= m.started < at + window for m in requested):
                continue
            online_begin = next(
                (
                    e
                    for e in mine
                    if e.id == EventId.ROLE_ONLINE_BEGIN
                    and at <= e.time < at + window
                    and e.node.casefold() != lost.casefold()
                ),
                None,
            )
            online = next(
                (
                    e
                    for e in mine
                    if e.id == EventId.ROLE_ONLINE
                    and at <= e.time < at + window
                    and e.node.casefold() != lost.casefold()
                ),
                None,
            )
            landed = online_begin or online
            if landed is None:
                continue
            if inferred and (landed.time - at).total_seconds() > FAILOVER_S:
                continue  # no earlier event places the role on the lost node: only a prompt start
            move = PastMove(role, lost, landed.node, at, cause="failover")
            move.online_begin = online_begin.time if online_begin else None
            move.online = online.time if online else None
            out.append(move)
    return out


def _mark_drains(moves: list[PastMove]) -> None:
    """Requested moves leaving one node within DRAIN_GAP_S of each other: one drain (inferred)."""
    requests = sorted((m for m in moves if m.cause == "request"), key=lambda m: m.started)
    for m in requests:
        near = [
            o
            for o in requests
            if o is not m
            and o.role != m.role
            and (o.source or "").casefold() == (m.source or "").casefold()
            and abs((o.started - m.started).total_seconds()) <= DRAIN_GAP_S
        ]
        if near:
            m.cause = "drain"


@dataclass(frozen=True)
class HistoryJudgement:
    """One claim judged from history: its verdict, the contradictions and the figures."""

    claim: str
    verdict: str  # "passed", "failed" or "not judged"
    reason: str
    contradictions: tuple[dict[str, Any], ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)


def judge_order(moves: Sequence[PastMove], skew_s: float = DEFAULT_SKEW_S) -> HistoryJudgement:
    """QM-01 from history: every past quick migration went offline on its source before the
    target began bringing it online.

    FAILED only where both events are logged and the target's 1200 precedes the source's 1204
    by more than the clock skew allowed; moves missing an event, or within the skew, are counted
    and not judged.
    """
    judged, unclear, contradictions = 0, [], []
    for m in moves:
        if m.kind != "quick":
            continue
        if m.offline is None or m.online_begin is None:
            unclear.append(m.role)
            continue
        lead = (m.offline - m.online_begin).total_seconds()
        if lead > skew_s:
            contradictions.append(
                {
                    **m.as_dict(),
                    "online_began_before_offline_by_s": round(lead, 3),
                }
            )
        elif lead > 0:
            unclear.append(m.role)
        else:
            judged += 1
    figures = {
        "quick_moves": sum(1 for m in moves if m.kind == "quick"),
        "judged": judged + len(contradictions),
        "not_judged": len(unclear),
        "skew_allowed_s": skew_s,
    }
    if contradictions:
        return HistoryJudgement(
            "QM-01",
            "failed",
            f"{len(contradictions)} past move(s) came online on the target before going "
            f"offline on the source (by more than {skew_s:g} s of clock skew)",
            tuple(contradictions),
            figures,
        )
    if judged == 0:
        return HistoryJudgement(
            "QM-01",
            "not judged",
            "no past quick migration with both events in the log",
            (),
            figures,
        )
    return HistoryJudgement(
        "QM-01",
        "passed",
        f"{judged} past quick migration(s) went offline on the source before coming online",
        (),
        figures,
    )


def judge_downtime(moves: Sequence[PastMove]) -> HistoryJudgement:
    """QM-10 from history: the role was offline from 1203 on the source to 1201 on the target."""
    downs = [d for m in moves if m.kind == "quick" and (d := m.downtime_s) is not None]
    figures = downtime_figures(moves)
    positive = [d for d in downs if d > 0]
    if not positive:
        return HistoryJudgement(
            "QM-10",
            "not judged",
            "no past quick migration with both its offline and online events in the log",
            (),
            figures,
        )
    return HistoryJudgement(
        "QM-10",
        "passed",
        f"{len(positive)} past quick migration(s) each left the role offline for a measurable "
        f"window (median {statistics.median(positive):.1f} s)",
        (),
        figures,
    )


def downtime_figures(moves: Sequence[PastMove]) -> dict[str, Any]:
    """Counts by cause and kind, and downtime per move (min, median, max)."""
    downs = [d for m in moves if m.complete and (d := m.downtime_s) is not None]
    by_cause: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for m in moves:
        by_cause[m.cause] = by_cause.get(m.cause, 0) + 1
        by_kind[m.kind] = by_kind.get(m.kind, 0) + 1
    out: dict[str, Any] = {"moves": len(moves), "by_cause": by_cause, "by_kind": by_kind}
    if downs:
        out["downtime_s"] = {
            "min": round(min(downs), 3),
            "median": round(statistics.median(downs), 3),
            "max": round(max(downs), 3),
        }
    return out


def outliers(
    moves: Sequence[PastMove],
    memory_gib: dict[str, float] | None = None,
    factor: float = OUTLIER_FACTOR,
) -> list[dict[str, Any]]:
    """Moves worth a look: a downtime over `factor` x the median (per GiB of the role's memory
    where known, since downtime grows with memory), role failures, never online."""
    memory = memory_gib or {}

    def rate(m: PastMove) -> float | None:
        down = m.downtime_s
        if down is None or m.kind != "quick":
            return None
        gib = memory.get(m.role)
        return down / gib if gib else down

    rates = [r for m in moves if (r := rate(m)) is not None]
    median = statistics.median(rates) if rates else None
    unit = "s/GiB" if memory else "s"
    rows = []
    for m in moves:
        reasons = []
        r = rate(m)
        if median and r is not None and r > factor * median:
            reasons.append(f"{r:.1f} {unit} > {factor:g} x median {median:.1f} {unit}")
        if m.failures:
            reasons.append(f"{len(m.failures)} role failure event(s) (1205)")
        if m.kind == "quick" and m.online is None:
            reasons.append("no online event on the target in the window")
        if reasons:
            rows.append({**m.as_dict(), "why": "; ".join(reasons)})
    return rows


def table(rows: Sequence[dict[str, Any]], limit: int = 50) -> str:
    """A plain-text table of moves (the outliers table of the evidence)."""
    head = ("when (UTC)", "role", "source", "target", "cause", "downtime s", "why")
    lines = [head]
    for r in rows[:limit]:
        down = r.get("downtime_s")
        lines.append(
            (
                str(r.get("started_utc") or "")[:19],
                str(r["role"]),
                str(r.get("source") or "?"),
                str(r["target"]),
                str(r["cause"]),
                "-" if down is None else f"{down:.1f}",
                str(r.get("why", "")),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    if len(rows) > limit:
        out.append(f"... and {len(rows) - limit} more")
    return "\n".join(out)
