"""ProbeCommands: the modules (and later cmdlets) a probe script uses, read from its text."""

from __future__ import annotations

import re

# `Import-QmModule 'X'` and `Import-Module -Name X` with a literal name, as the probes write them.
_IMPORT_RE = re.compile(
    r"^\s*Import-(?:Qm)?Module\s+(?:-Name\s+)?['\"]?([A-Za-z][A-Za-z0-9.-]*)['\"]?(?=\s|$)",
    re.IGNORECASE | re.MULTILINE,
)


def modules_in(script: str) -> tuple[str, ...]:
    """The modules a probe script imports by literal name (FailoverClusters, Hyper-V...)."""
    seen: dict[str, str] = {}
    for match in _IMPORT_RE.finditer(script):
        seen.setdefault(match.group(1).lower(), match.group(1))
    return tuple(seen.values())
