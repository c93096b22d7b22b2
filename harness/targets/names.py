"""Host and computer name rules for inventories: DNS host names, IP addresses, Windows names."""

from __future__ import annotations

import ipaddress
import re

# SetComputerName accepts at most MAX_COMPUTERNAME_LENGTH (15) characters from letters, digits
# and ! @ # $ % ^ & ' ) ( . - _ { } ~ (learn.microsoft.com, SetComputerNameW); the NetBIOS name
# is at most 15 bytes (learn.microsoft.com, Computer Names); it cannot start with a period nor be
# all digits for a domain member (learn.microsoft.com, Naming conventions in Active Directory).
MAX_COMPUTER_NAME = 15
_COMPUTER_NAME = re.compile(r"^[A-Za-z0-9!@#$%^&')(.\-_{}~]+$")
# RFC 1123 host names: labels of letters, digits and hyphens, 1-63 each, 253 in all; the
# Computer Names page gives the same 63-byte label limit for DNS names.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_DNS_NAME = 253


def host_problem(host: str) -> str | None:
    """Why `host` is neither an IP address nor a DNS host name, or None if it is valid."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if "://" in host or "/" in host:
        return "a host name, not a URL: give the scheme, port and path as settings"
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > MAX_DNS_NAME:
        return f"not a DNS host name (1 to {MAX_DNS_NAME} characters)"
    for label in name.split("."):
        if not _LABEL.match(label):
            return (
                "not a DNS host name or IP address (labels of letters, digits and inner "
                "hyphens, 1 to 63 characters, separated by dots)"
            )
    if name.replace(".", "").isdigit():
        return "not an IP address (and a DNS host name is not all digits)"
    return None


def computer_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Windows computer (NetBIOS) name, or None if it is."""
    if not 1 <= len(name) <= MAX_COMPUTER_NAME:
        return f"not a Windows computer name (1 to {MAX_COMPUTER_NAME} characters)"
    if not _COMPUTER_NAME.match(name):
        return (
            "not a Windows computer name (letters, digits and ! @ # $ % ^ & ' ) ( . - _ { } ~ only)"
        )
    if name.startswith("."):
        return "not a Windows computer name (cannot start with a period)"
    if name.isdigit():
        return "not a Windows computer name (not only digits)"
    return None
