"""The event vocabulary: each event from its real channel, both forms of 1641, Windows' texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.audit.cluster import Cluster
from harness.domain import events
from harness.domain.events import Channel, EventFormError, EventId
from harness.drivers.lab import LabDriver
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology
from harness.schemas import parse_probe_output

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OPERATIONAL = "Microsoft-Windows-FailoverClustering/Operational"


class _Rewriter:
    """A driver that rewrites the cluster_events documents before they are parsed."""

    def __init__(self, inner: Any, rewrite: Callable[[dict[str, Any]], None]) -> None:
        self.inner, self.rewrite = inner, rewrite

    @property
    def nodes(self) -> list[str]:
        return list(self.inner.nodes)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        doc = self.inner.run_probe(name, params, node)
        if name == "cluster_events":
            for event in doc["events"]:
                self.rewrite(event)
        return parse_probe_output(name, json.dumps(doc))

    def close(self) -> None:
        self.inner.close()


def _moved(rewrite: Callable[[dict[str, Any]], None] | None = None) -> tuple[Cluster, LabCluster]:
    clock = ManualClock(START)
    lab = LabCluster(load_default_topology(), clock)
    driver: Any = LabDriver(lab)
    if rewrite is not None:
        driver = _Rewriter(driver, rewrite)
    lab.move_vms(["web 01"], "HV-B")
    lab.settle()
    return Cluster(driver, poll_interval_s=0.1, sleep=clock.advance), lab


def test_role_events_live_in_the_operational_channel_errors_in_system() -> None:
    for event_id in events.MOVE_EVENTS:
        assert events.spec(event_id).channel is Channel.CLUSTER_OPERATIONAL
    assert events.spec(EventId.ROLE_FAILED_ONLINE_OFFLINE).channel is Channel.SYSTEM
    assert events.spec(EventId.RESOURCE_FAILED).channel is Channel.SYSTEM
    assert events.queries([1641, 1204, 1205]) == [
        {"log": OPERATIONAL, "provider": events.FAILOVER_CLUSTERING, "ids": [1641, 1204]},
        {"log": "System", "provider": events.FAILOVER_CLUSTERING, "ids": [1205]},
    ]


def test_1641_is_read_in_both_forms() -> None:
    short = events.role_move(["web 01", "HV-B"])
    assert (short.role, short.source, short.target) == ("web 01", None, "HV-B")
    long = events.role_move(["web 01", "HV-A", "HV-B"])
    assert (long.role, long.source, long.target) == ("web 01", "HV-A", "HV-B")
    assert events.message(1641, ["web 01", "HV-B"]) == (
        "Clustered role 'web 01' is moving to cluster node 'HV-B'."
    )
    for odd in ([], ["web 01"], ["web 01", "HV-A", "HV-B", "extra"]):
        with pytest.raises(EventFormError, match="1641"):
            events.role_move(odd)


def test_events_read_through_the_facade_carry_their_log() -> None:
    cluster, _ = _moved()
    found = cluster.events(START - timedelta(seconds=5), ["HV-A", "HV-B"])
    assert found and {e.log for e in found} == {OPERATIONAL}
    (moving,) = [e for e in found if e.id == EventId.ROLE_MOVING]
    assert (moving.move.source, moving.move.target, moving.role) == ("HV-A", "HV-B", "web 01")


def test_the_short_1641_form_is_understood() -> None:
    def short(event: dict[str, Any]) -> None:
        if event["id"] == 1641:
            role, _source, target = event["properties"]
            event["properties"] = [role, target]
            event["message"] = events.message(1641, event["properties"])

    cluster, _ = _moved(short)
    (moving,) = [e for e in cluster.events(START - timedelta(seconds=5), ["HV-A"]) if e.id == 1641]
    assert (moving.move.source, moving.move.target, moving.role) == (None, "HV-B", "web 01")


def test_an_event_from_the_wrong_channel_is_broken_evidence() -> None:
    def to_system(event: dict[str, Any]) -> None:
        event["log"] = "System"

    cluster, _ = _moved(to_system)
    with pytest.raises(EventFormError, match=r"1641 on HV-A came from log 'System'"):
        cluster.events(START - timedelta(seconds=5), ["HV-A"])


def test_extra_properties_beyond_the_template_are_not_read_as_the_template() -> None:
    # Windows records may carry more properties than the message template uses.
    def extra(event: dict[str, Any]) -> None:
        if event["id"] == 1204:
            event["properties"] = [*event["properties"], "surprise"]
        if event["id"] == 1641:
            role, target = event["properties"][0], event["properties"][-1]
            # The two-property form plus one extra: three properties, and only the message says
            # which form it is (read as the three-property form it would name a wrong source).
            event["properties"] = [role, target, "0x0"]
            event["message"] = events.message(1641, [role, target])

    cluster, _ = _moved(extra)
    read = cluster.events(START - timedelta(seconds=5), ["HV-A"])
    (offline,) = [e for e in read if e.id == 1204]
    assert offline.properties == ("web 01",)
    (moving,) = [e for e in read if e.id == 1641]
    assert (moving.move.source, moving.move.target) == (None, "HV-B")


def test_an_event_whose_form_cannot_be_told_is_broken_evidence() -> None:
    def unknown(event: dict[str, Any]) -> None:
        if event["id"] == 1641:
            event["properties"] = [*event["properties"], "x", "y"]
            event["message"] = "Die Rolle wird verschoben."  # a message that decides nothing

    cluster, _ = _moved(unknown)
    with pytest.raises(EventFormError, match=r"1641 on HV-A has \d properties"):
        cluster.events(START - timedelta(seconds=5), ["HV-A"])


def test_the_lab_writes_windows_own_messages_to_windows_own_channels() -> None:
    _, lab = _moved()
    # The move's own events (the lab also starts with a seeded history of older moves).
    written = {
        e.id: e for e in lab.node("HV-A").events + lab.node("HV-B").events if e.time >= lab.started
    }
    assert written[1204].message == (
        "The Cluster service successfully brought the clustered role 'web 01' offline."
    )
    assert written[1200].message == (
        "The Cluster service is attempting to bring the clustered role 'web 01' online."
    )
    assert written[1641].message == (
        "Clustered role 'web 01' is moving from cluster node 'HV-A' to cluster node 'HV-B'."
    )
    assert {e.log for e in written.values()} == {OPERATIONAL}
    # No Hyper-V-Worker save/restore event: no public manifest confirms their ids.
    assert set(written) <= {int(i) for i in events.MOVE_EVENTS}
