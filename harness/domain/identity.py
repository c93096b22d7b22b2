"""Who was audited: the target identity recorded in every evidence record and the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from harness import __version__


@dataclass
class TargetIdentity:
    """What was audited: the target spec, the cluster and its nodes (OS build where known)."""

    spec: str
    kind: Literal["lab", "cluster"]
    cluster: str
    nodes: list[dict[str, str | None]]
    harness_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """JSON form; each node as {name, os_build}."""
        nodes = [{"name": n["name"], "os_build": n.get("os_build")} for n in self.nodes]
        return {
            "spec": self.spec,
            "kind": self.kind,
            "cluster": self.cluster,
            "nodes": nodes,
            "harness_version": self.harness_version,
        }
