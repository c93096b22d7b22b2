"""Pseudonyms: one consistent replacement for every host, node, cluster and VM name of a capture,
and for every IP address, MAC address, security identifier and GUID in it."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable

# Identifiers found by their shape. Each gets a stable pseudonym from a range that identifies
# nothing: IPv4 documentation networks (RFC 5737), the IPv6 documentation prefix (RFC 3849), a
# locally administered MAC, the SID of no domain, GUIDs numbered from zero. Loopback and
# unspecified addresses identify no host and stay.
_HEX = "0-9A-Fa-f"
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(rf"(?<![\w:.])(?=[{_HEX}:]*:[{_HEX}:]*:)[{_HEX}:]{{2,39}}(?:%\w+)?(?![\w:])")
_MAC = re.compile(
    rf"(?<![{_HEX}:-])(?:[{_HEX}]{{2}}([-:])(?:[{_HEX}]{{2}}\1){{4}}[{_HEX}]{{2}}|[{_HEX}]{{12}})"
    rf"(?![{_HEX}:-])"
)
_SID = re.compile(r"(?<![\w-])S-1-5-21-\d+-\d+-\d+(?=-\d+|(?![\w-]))", re.IGNORECASE)
_GUID = re.compile(
    rf"(?<![{_HEX}-])[{_HEX}]{{8}}-(?:[{_HEX}]{{4}}-){{3}}[{_HEX}]{{12}}(?![{_HEX}-])"
)
_GUID_PSEUDO = "00000000-0000-4000-8000-"

# A name is replaced only where it is not part of a longer word: "HV1" inside "HV10" stays
# (HV10 has its own pseudonym), "HV1" in "HV1.corp.example" or "C:\VMs\HV1\" is replaced.
_BEFORE = r"(?<![A-Za-z0-9])"
_AFTER = r"(?![A-Za-z0-9])"


def _spellings(name: str) -> set[str]:
    """The ways a name appears in raw output: as is, and escaped by JSON writers."""
    out = {name}
    out.add(json.dumps(name, ensure_ascii=True)[1:-1])
    out.add(json.dumps(name, ensure_ascii=False)[1:-1])
    # Windows PowerShell 5.1's ConvertTo-Json escapes these HTML-sensitive characters too.
    html = json.dumps(name, ensure_ascii=False)[1:-1]
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        html = html.replace(char, escaped)
    out.add(html)
    return {s for s in out if s}


class Pseudonymiser:
    """Maps names to pseudonyms (kind-N, numbered in the order given) and rewrites text."""

    def __init__(self) -> None:
        self._ids: dict[str, dict[str, str]] = {}
        self._domains: list[str] = []
        self._by_folded: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._originals: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self._lookup: dict[str, str] = {}

    def add(self, kind: str, names: Iterable[str | None]) -> None:
        """Give every new name of this kind (cluster, node, host, domain, vm) a pseudonym."""
        for name in names:
            if not name or not name.strip():
                continue
            folded = name.casefold()
            if folded in self._by_folded:
                continue
            number = self._counters.get(kind, 0) + 1
            self._counters[kind] = number
            pseudonym = f"{kind}-{number}"
            if kind in ("host", "domain"):
                # Still a syntactically valid DNS name, in a domain that never resolves.
                pseudonym += ".invalid" if kind == "domain" else ".example.invalid"
            self._by_folded[folded] = pseudonym
            self._originals.append(name)
            self._pattern = None
            if kind == "domain":
                self._domains.append(name)

    @property
    def originals(self) -> list[str]:
        """Every name that gets replaced."""
        return list(self._originals)

    def name(self, name: str) -> str:
        """The pseudonym of a whole name (unchanged if it is not a known name)."""
        return self._by_folded.get(name.casefold(), self.text(name))

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._by_folded:
            lookup: dict[str, str] = {}
            for name in self._originals:
                for spelling in _spellings(name):
                    lookup.setdefault(spelling.casefold(), self._by_folded[name.casefold()])
            self._lookup = lookup
            # Longest first, so that a name containing another name wins.
            alternatives = sorted(lookup, key=len, reverse=True)
            body = "|".join(re.escape(a) for a in alternatives)
            self._pattern = re.compile(f"{_BEFORE}(?:{body}){_AFTER}", re.IGNORECASE)
        return self._pattern

    def text(self, text: str) -> str:
        """The text with every known name replaced, in one pass (pseudonyms are never re-read),
        then every IP address, MAC address, domain SID and GUID."""
        if not text:
            return text
        text = self._other_hosts(text)
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(lambda m: self._lookup[m.group(0).casefold()], text)
        return self.identifiers(text)

    def _other_hosts(self, text: str) -> str:
        """Host names in a known domain that no inventory names (a file server, a domain
        controller): each becomes a host pseudonym of its own."""
        if not self._domains:
            return text
        domains = "|".join(re.escape(d) for d in sorted(self._domains, key=len, reverse=True))
        fqdn = re.compile(
            rf"{_BEFORE}[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:{domains}){_AFTER}",
            re.IGNORECASE,
        )
        new = [
            m.group(0) for m in fqdn.finditer(text) if m.group(0).casefold() not in self._by_folded
        ]
        if new:
            self.add("host", new)
        return text

    def _id(self, kind: str, original: str, make: Callable[[int], str]) -> str:
        table = self._ids.setdefault(kind, {})
        folded = original.casefold()
        if folded not in table:
            table[folded] = make(len(table) + 1)
        return table[folded]

    def identifiers(self, text: str) -> str:
        """The text with IP and MAC addresses, domain/machine SIDs and GUIDs replaced."""
        text = _GUID.sub(self._guid, text)
        text = _SID.sub(self._sid, text)
        text = _MAC.sub(self._mac, text)
        text = _IPV6.sub(self._ipv6, text)
        return _IPV4.sub(self._ipv4, text)

    def _guid(self, m: re.Match[str]) -> str:
        found = m.group(0)
        if found.casefold().startswith(_GUID_PSEUDO) or found.strip("0-") == "":
            return found
        made = self._id("guid", found, lambda n: f"{_GUID_PSEUDO}{n:012d}")
        return made.upper() if found.isupper() or found.upper() == found else made

    def _sid(self, m: re.Match[str]) -> str:
        found = m.group(0)
        if found.upper().startswith("S-1-5-21-0-0-"):
            return found
        return self._id("sid", found, lambda n: f"S-1-5-21-0-0-{n}")

    def _mac(self, m: re.Match[str]) -> str:
        found = m.group(0)
        sep = m.group(1) or ""
        digits = found.replace(sep, "") if sep else found
        if digits.upper().startswith("020000") or not any(c.isdigit() for c in digits):
            return found  # a pseudonym already, or a hex word rather than an address
        if digits.isdigit() and not sep:
            return found  # twelve decimal digits: a number, not an address
        made = self._id("mac", digits, lambda n: f"020000{n:06X}")
        if sep:
            made = sep.join(made[i : i + 2] for i in range(0, 12, 2))
        return made if found.upper() == found else made.lower()

    def _ipv4(self, m: re.Match[str]) -> str:
        found = m.group(0)
        try:
            address = ipaddress.IPv4Address(found)
        except ValueError:
            return found
        if address.is_loopback or address.is_unspecified or address.is_multicast:
            return found
        if address in _IPV4_PSEUDO or str(address) == "255.255.255.255":
            return found
        return self._id("ipv4", found, _ipv4_pseudonym)

    def _ipv6(self, m: re.Match[str]) -> str:
        found = m.group(0)
        bare, _, zone = found.partition("%")
        try:
            address = ipaddress.IPv6Address(bare)
        except ValueError:
            return found
        if address.is_loopback or address.is_unspecified or address in _IPV6_PSEUDO:
            return found
        made = self._id("ipv6", str(address), lambda n: f"2001:db8::{n:x}")
        return made + (f"%{zone}" if zone else "")

    def value(self, value: object) -> object:
        """A JSON-like value with every string (and mapping key) pseudonymised."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def leaks(self, text: str) -> list[str]:
        """Original names and identifiers still present in text (case-insensitive substring)."""
        folded = text.casefold()
        found = [name for name in self._originals if name.casefold() in folded]
        return found + [o for table in self._ids.values() for o in table if o in folded]


_IPV4_PSEUDO = ipaddress.IPv4Network("192.0.2.0/24")
_IPV6_PSEUDO = ipaddress.IPv6Network("2001:db8::/32")


def _ipv4_pseudonym(number: int) -> str:
    """The number-th IPv4 pseudonym: 192.0.2.1-254, then 198.51.100.x, 203.0.113.x, 198.18.x.y."""
    for network in ("192.0.2.", "198.51.100.", "203.0.113."):
        if number <= 254:
            return f"{network}{number}"
        number -= 254
    return f"198.18.{number // 254 % 256}.{number % 254 + 1}"
