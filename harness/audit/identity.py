"""Who was audited: the target identity recorded in every evidence record and the report."""

from __future__ import annotations

from typing import Any

from harness.domain.identity import TargetIdentity
from harness.errors import HarnessError


def target_identity(target: Any) -> TargetIdentity:
    """Cluster name and nodes (with OS build where a node answers) of an opened target."""
    inventory = target.driver.run_probe("cluster_inventory", {}, None)
    nodes: list[dict[str, str | None]] = []
    for node in inventory["nodes"]:
        build: str | None = None
        if node["state"] != "Down":
            try:
                build = target.driver.run_probe("host_info", {}, node["name"])["os_build"]
            except HarnessError:
                build = None
        nodes.append({"name": node["name"], "os_build": build})
    return TargetIdentity(
        spec=target.spec,
        kind=target.kind,
        cluster=inventory["cluster"]["name"],
        nodes=nodes,
    )
