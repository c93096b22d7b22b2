"""The guest's KVP host name items, and whether they name a node."""

from __future__ import annotations


def kvp_names_host(items: dict[str, str], node: str) -> bool:
    """Both forms name the node: the short name, and the first label of the qualified name.

    The qualified form's domain is not compared (the node's DNS domain is not read); a stale
    qualified name still names the old host in its first label, which is what this catches.
    """
    short = items.get("PhysicalHostName", "")
    qualified = items.get("PhysicalHostNameFullyQualified", "")
    return (
        short.casefold() == node.casefold()
        and "." in qualified
        and qualified.split(".", 1)[0].casefold() == node.casefold()
    )
