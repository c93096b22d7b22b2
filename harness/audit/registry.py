"""What each node reads of a VM's cluster resources: their identity and HKLM\\Cluster entries."""

from __future__ import annotations

from typing import Any


def resource_identity(resources: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The resources' GUID, name and type, sorted."""
    return sorted((r["id"], r["name"], r["resource_type"]) for r in resources)


def registry_views(resources: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """Per node, what it reads in HKLM\\Cluster\\Resources for each of the resources."""
    return {
        node: sorted(
            (
                r["id"],
                r["registry"]["present"],
                r["registry"]["name"],
                r["registry"]["type"],
                r["registry"]["vm_id"],
            )
            for r in res
        )
        for node, res in resources.items()
    }
