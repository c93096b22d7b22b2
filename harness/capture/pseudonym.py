"""Pseudonyms: one consistent replacement for every host, node, cluster and VM name of a capture."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

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
        """The text with every known name replaced, in one pass (pseudonyms are never re-read)."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: self._lookup[m.group(0).casefold()], text)

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
        """Original names still present in text (case-insensitive substring: the strict test)."""
        folded = text.casefold()
        return [name for name in self._originals if name.casefold() in folded]
