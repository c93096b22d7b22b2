"""Node reachability: can a TCP connection reach each node's WinRM listener within its timeout."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.targets.inventory import Inventory, node_endpoint


@dataclass(frozen=True)
class Unreachable:
    """A node whose WinRM listener did not accept a connection."""

    node: str
    address: str
    reason: str


def _try(node: str, host: str, port: int, timeout_s: float) -> Unreachable | None:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        reason = f"no answer within the connect timeout of {timeout_s:g} s"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    return Unreachable(node, f"{host}:{port}", reason)


def unreachable_nodes(inventory: Inventory) -> list[Unreachable]:
    """Every node that cannot be reached, tried in parallel: done within the longest timeout."""
    endpoints = [node_endpoint(node, inventory.source) for node in inventory.nodes]
    if not endpoints:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(endpoints))) as pool:
        futures = [
            pool.submit(_try, ep.node, ep.host, int(ep.port or 0), ep.connect_timeout_s)
            for ep in endpoints
        ]
        results = [f.result() for f in futures]
    return [r for r in results if r is not None]
