"""Defect profiles: schema-validated YAML overlays that switch lab rules off (rules_off)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.lab.ruleparams import check_params
from harness.lab.rules import RULE_IDS, rule
from harness.lab.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from harness.redact import note_document
from harness.schemas import validate_document
from harness.yamlfile import read_yaml_file

PROFILES_DIR = Path(__file__).resolve().parents[1] / "lab" / "profiles"
_EMPTY_RULES_OFF = "rules_off: []"


@dataclass(frozen=True)
class Profile:
    """One defect profile: the rules it switches off and the claims it must break."""

    name: str
    description: str
    breaks: tuple[str, ...]
    rules_off: tuple[dict[str, Any], ...]
    source: str = field(default="", compare=False)
    # "move": the self-test runs the audit; "passive": it runs a passive audit (no move), and
    # `breaks` are the claims that passive audit must fail (docs/passive.md).
    mode: str = "move"


def parse_profile(doc: Any, source: str) -> Profile:
    """Validate a parsed profile document (schema, then rule ids and scopes): InputError."""
    if not isinstance(doc, dict):
        raise InputError(source, "$", "the top level must be a mapping")
    note_document(source, doc)
    validate_document("profile", doc, source)
    for i, entry in enumerate(doc["rules_off"]):
        at = f"$.rules_off[{i}]"
        if entry["rule"] not in RULE_IDS:
            raise InputError(source, f"{at}.rule", f"unknown rule {entry['rule']!r}")
        check_params(entry["rule"], entry.get("params") or {}, source, at)
        scope = rule(entry["rule"]).scope
        for key in ("vm", "node"):
            if key in entry and key not in scope:
                raise InputError(
                    source,
                    f"{at}.{key}",
                    f"rule {entry['rule']!r} cannot be switched off per {key}",
                )
    missing = sorted({rule(e["rule"]).claim for e in doc["rules_off"]} - set(doc["breaks"]))
    if missing:
        reason = f"breaks must list the claims of the rules switched off: {', '.join(missing)}"
        raise InputError(source, "$.breaks", reason)
    return Profile(
        name=doc["name"],
        description=doc["description"].strip(),
        breaks=tuple(sorted(doc["breaks"])),
        rules_off=tuple(dict(entry) for entry in doc["rules_off"]),
        source=source,
        mode=str(doc.get("mode", "move")),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and validate one profile file."""
    return parse_profile(read_yaml_file(path), str(path))


def shipped_profiles(pattern: str = "*.yaml") -> list[Profile]:
    """The profiles shipped in harness/lab/profiles whose file name matches `pattern`, by name."""
    return sorted((load_profile(p) for p in PROFILES_DIR.glob(pattern)), key=lambda prof: prof.name)


def expected_breaks(profiles: Iterable[Profile]) -> tuple[str, ...]:
    """The claims a run combining these profiles must fail: the union of their `breaks`."""
    return tuple(sorted({claim for prof in profiles for claim in prof.breaks}))


def primary_claims(profiles: Iterable[Profile]) -> tuple[str, ...]:
    """The claims backed by the rules the profiles switch off (each must fail on a verdict)."""
    return tuple(sorted({rule(e["rule"]).claim for prof in profiles for e in prof.rules_off}))


def check_scopes(profile: Profile, topology: Topology) -> None:
    """InputError (naming the profile file) if an entry names a VM or node the topology lacks."""
    vms = {vm.name for vm in topology.vms}
    for i, entry in enumerate(profile.rules_off):
        at = f"$.rules_off[{i}]"
        if "vm" in entry and entry["vm"] not in vms:
            reason = f"VM {entry['vm']!r} is not in topology {topology.source}"
            raise InputError(profile.source or profile.name, f"{at}.vm", reason)
        if "node" in entry and topology.node(entry["node"]) is None:
            reason = f"node {entry['node']!r} is not in topology {topology.source}"
            raise InputError(profile.source or profile.name, f"{at}.node", reason)


def overlay_text(base_text: str, entries: Sequence[dict[str, Any]], source: str) -> str:
    """Topology text with its single `rules_off: []` line replaced by `entries` (YAML flow)."""
    lines = base_text.splitlines()
    if lines.count(_EMPTY_RULES_OFF) != 1:
        raise InputError(source, "$.rules_off", f"expected one line {_EMPTY_RULES_OFF!r}")
    # JSON is valid YAML flow style; replacing the one line keeps every other value as written
    # (a YAML round trip would have to care about `state: Off` and the like).
    lines[lines.index(_EMPTY_RULES_OFF)] = "rules_off: " + json.dumps(entries, ensure_ascii=False)
    return "\n".join(lines) + "\n"


def write_profiled_topology(
    folder: Path, profiles: Sequence[Profile], base: Path = DEFAULT_TOPOLOGY
) -> Path:
    """Write `base` with every profile's rules_off applied to folder/topology.yaml; validated."""
    base_topology = load_topology(base)
    for prof in profiles:
        check_scopes(prof, base_topology)
    entries = [entry for prof in profiles for entry in prof.rules_off]
    text = overlay_text(base.read_text(encoding="utf-8"), entries, str(base))
    path = folder / "topology.yaml"
    path.write_text(text, encoding="utf-8")
    load_topology(path)  # fail here, clearly, rather than as a broken run
    return path
