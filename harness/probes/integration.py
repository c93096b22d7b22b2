"""Integration services in a vm_details document, found by their locale-independent keys."""

from __future__ import annotations

from typing import Any

# Hyper-V's Time Synchronization integration service by its component GUID, the last part of
# Get-VMIntegrationService's Id ("Microsoft:<VMId>\\<GUID>"): the service's display name and
# status text are localized, this key is not (docs/windows-fidelity.md).
TIME_SYNC_COMPONENT_ID = "2497f4de-e9fa-4204-80e4-4b75c46419c0"
# The English name, used only for documents that carry no component id (older captures).
_TIME_SYNC_EN = "Time Synchronization"


def time_sync_service(services: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Time Synchronization entry of vm_details' integration services, by component id."""
    for service in services:
        if (service.get("component_id") or "").lower() == TIME_SYNC_COMPONENT_ID:
            return service
    keyed = any(service.get("component_id") for service in services)
    if keyed:
        return None
    return next((s for s in services if s.get("name") == _TIME_SYNC_EN), None)


def service_status(service: dict[str, Any]) -> str | None:
    """A service's status as the locale-independent enum name ("OK" for Ok, as before).

    PrimaryOperationalStatus' name (Ok, NoContact, LostCommunication...) is the same in every
    locale; PrimaryStatusDescription is the localized text and is used only when the enum name
    is missing (older captures).
    """
    operational = service.get("operational_status")
    if operational:
        return "OK" if operational.casefold() == "ok" else operational
    status = service.get("primary_status")
    return None if status is None else str(status)


# The component GUIDs of Hyper-V's integration services (the lab answers with these too).
COMPONENT_IDS: dict[str, str] = {
    "time_sync": TIME_SYNC_COMPONENT_ID,
    "heartbeat": "84eaae65-2f2e-45f5-9bb5-0e857dc8eb47",
    "kvp": "2a34b1c2-fd73-4043-8a5b-dd2159bc743f",
    "shutdown": "9f8233ac-be49-4c79-8ee3-e7e1985b2077",
    "vss": "5ced1297-4598-4915-a5fc-ad21bb4d02a4",
    "guest_services": "6c09bb55-d683-4da0-8931-c9bf705f6480",
}
