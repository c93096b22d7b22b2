"""The event vocabulary: the Windows events the audit reads, with channel, provider and template.

One place for event ids, the log (channel) each one is written to, its message templates by
property count and which property names the role or the VM. The harness builds its event queries
from it and the lab writes its events from it, so the two cannot drift apart; every entry is a
row of docs/windows-fidelity.md ("Event logs").

Hyper-V-Worker save/restore events are deliberately absent: no public per-build manifest confirms
their ids or channel (docs/windows-fidelity.md), so no verdict rests on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from harness.errors import HarnessError

FAILOVER_CLUSTERING = "Microsoft-Windows-FailoverClustering"


class Channel(StrEnum):
    """Event logs, named as Get-WinEvent -LogName takes them."""

    # Informational group events (1200-1204, 1641) go here, not to System.
    CLUSTER_OPERATIONAL = "Microsoft-Windows-FailoverClustering/Operational"
    # Errors and warnings (1069, 1205, ...): the System log, source FailoverClustering.
    SYSTEM = "System"


class EventId(IntEnum):
    """The event ids the audit reads."""

    RESOURCE_FAILED = 1069
    ROLE_ONLINE_BEGIN = 1200
    ROLE_ONLINE = 1201
    ROLE_OFFLINE_BEGIN = 1203
    ROLE_OFFLINE = 1204
    ROLE_FAILED_ONLINE_OFFLINE = 1205
    ROLE_MOVING = 1641
    NODE_REMOVED = 1135


@dataclass(frozen=True)
class EventSpec:
    """One event as Windows defines it: where it is logged and how its message reads."""

    id: EventId
    provider: str
    channel: Channel
    # Message templates by number of properties, {0} = %1; an event may have several forms.
    templates: dict[int, str]
    role_property: int | None = None
    vm_id_property: int | None = None


def _fc(event_id: EventId, channel: Channel, role: int, *templates: str) -> EventSpec:
    forms = {template.count("{"): template for template in templates}
    return EventSpec(event_id, FAILOVER_CLUSTERING, channel, forms, role_property=role)


_OP = Channel.CLUSTER_OPERATIONAL
SPECS: dict[EventId, EventSpec] = {
    s.id: s
    for s in (
        _fc(
            EventId.ROLE_ONLINE_BEGIN,
            _OP,
            0,
            "The Cluster service is attempting to bring the clustered role '{0}' online.",
        ),
        _fc(
            EventId.ROLE_ONLINE,
            _OP,
            0,
            "The Cluster service successfully brought the clustered role '{0}' online.",
        ),
        _fc(
            EventId.ROLE_OFFLINE_BEGIN,
            _OP,
            0,
            "The Cluster service is attempting to bring the clustered role '{0}' offline.",
        ),
        _fc(
            EventId.ROLE_OFFLINE,
            _OP,
            0,
            "The Cluster service successfully brought the clustered role '{0}' offline.",
        ),
        _fc(
            EventId.ROLE_MOVING,
            _OP,
            0,
            "Clustered role '{0}' is moving to cluster node '{1}'.",
            "Clustered role '{0}' is moving from cluster node '{1}' to cluster node '{2}'.",
        ),
        _fc(
            EventId.ROLE_FAILED_ONLINE_OFFLINE,
            Channel.SYSTEM,
            0,
            "The Cluster service failed to bring clustered role '{0}' completely online or "
            "offline. One or more resources may be in a failed state. This may impact the "
            "availability of the clustered role.",
        ),
        EventSpec(
            EventId.NODE_REMOVED,
            FAILOVER_CLUSTERING,
            Channel.SYSTEM,
            {
                1: "Cluster node '{0}' was removed from the active failover cluster membership. "
                "The Cluster service on this node may have stopped. This could also be due to "
                "the node having lost communication with other active nodes in the failover "
                "cluster. Run the Validate a Configuration wizard to check your network "
                "configuration. If the condition persists, check for hardware or software errors "
                "related to the network adapters on this node. Also check for failures in any "
                "other network components to which the node is connected such as hubs, "
                "switches, or bridges."
            },
        ),
        _fc(
            EventId.RESOURCE_FAILED,
            Channel.SYSTEM,
            1,
            "Cluster resource '{0}' in clustered role '{1}' failed.",
            "Cluster resource '{0}' of type '{2}' in clustered role '{1}' failed.",
        ),
    )
}

# What a move leaves in the logs: the role moving, going offline on one node, online on another.
MOVE_EVENTS: tuple[EventId, ...] = (
    EventId.ROLE_MOVING,
    EventId.ROLE_ONLINE_BEGIN,
    EventId.ROLE_ONLINE,
    EventId.ROLE_OFFLINE_BEGIN,
    EventId.ROLE_OFFLINE,
)


# What a passive audit reads to rebuild the moves the cluster already made: the move events, the
# role failures and the node removals (a failover after a node was lost, not a quick migration).
HISTORY_EVENTS: tuple[EventId, ...] = (
    *MOVE_EVENTS,
    EventId.ROLE_FAILED_ONLINE_OFFLINE,
    EventId.NODE_REMOVED,
)


class EventFormError(HarnessError):
    """An event came in a form Windows does not define (wrong channel, property count)."""


def spec(event_id: int) -> EventSpec:
    """The vocabulary entry of an event id (KeyError for an id the audit does not know)."""
    return SPECS[EventId(event_id)]


def queries(ids: Iterable[int]) -> list[dict[str, Any]]:
    """One query per log for the cluster_events probe: {log, provider, ids}, in channel order."""
    wanted = [spec(i) for i in dict.fromkeys(int(i) for i in ids)]
    out: list[dict[str, Any]] = []
    for channel in Channel:
        here = [s for s in wanted if s.channel is channel]
        if here:
            out.append(
                {
                    "log": channel.value,
                    "provider": here[0].provider,
                    "ids": [int(s.id) for s in here],
                }
            )
    return out


def message(event_id: int, properties: Sequence[str]) -> str:
    """The event's message with its properties filled in, as Windows renders it."""
    template = spec(event_id).templates.get(len(properties))
    if template is None:
        raise EventFormError(
            f"event {event_id} has no form with {len(properties)} properties "
            f"(Windows defines {sorted(spec(event_id).templates)})"
        )
    return template.format(*properties)


@dataclass(frozen=True)
class RoleMove:
    """Event 1641 read: the role, the node it leaves (None in the short form) and its target."""

    role: str
    source: str | None
    target: str


def role_move(properties: Sequence[str], where: str = "") -> RoleMove:
    """Parse 1641 in either form: (role, target) or (role, source, target)."""
    if len(properties) == 2:
        return RoleMove(properties[0], None, properties[1])
    if len(properties) == 3:
        return RoleMove(properties[0], properties[1], properties[2])
    raise EventFormError(
        f"event 1641{where} has {len(properties)} properties {list(properties)!r}; Windows "
        "defines 2 (role, target node) or 3 (role, source node, target node)"
    )


def check_form(
    event_id: int,
    log: str,
    properties: Sequence[str],
    where: str = "",
    message: str | None = None,
) -> tuple[str, ...]:
    """The template's own properties of an event from its channel; EventFormError otherwise.

    A record may carry more properties than its message template uses (the template's come
    first). The form is the one whose rendering is the record's message; without a message
    that decides, only an exact count is accepted (never guessed between forms).
    """
    entry = spec(event_id)
    if log.casefold() != entry.channel.value.casefold():
        raise EventFormError(
            f"event {event_id}{where} came from log {log!r}; Windows writes it to "
            f"{entry.channel.value!r}"
        )
    counts = sorted(n for n in entry.templates if n <= len(properties))
    if message:
        text = " ".join(message.split())
        rendered = [
            n
            for n in counts
            if " ".join(entry.templates[n].format(*properties[:n]).split()) == text
        ]
        if len(rendered) == 1:
            return tuple(properties[: rendered[0]])
    if len(properties) in entry.templates:
        return tuple(properties)
    if len(counts) == 1:  # one form only can be the leading properties (a localized message)
        return tuple(properties[: counts[0]])
    raise EventFormError(
        f"event {event_id}{where} has {len(properties)} properties {list(properties)!r} and a "
        f"message that matches no form; Windows defines {sorted(entry.templates)}"
    )
