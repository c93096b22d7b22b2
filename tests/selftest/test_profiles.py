"""Defect profiles: schema and rule checks, shipped set covers every claim, overlays apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.domain.claims import CLAIMS
from harness.errors import InputError
from harness.lab.rules import RULES
from harness.lab.topology import load_default_topology, load_topology
from harness.selftest.profiles import (
    expected_breaks,
    load_profile,
    parse_profile,
    primary_claims,
    shipped_profiles,
    write_profiled_topology,
)

GOOD = {
    "name": "kvp-stale",
    "description": "KVP host name not updated",
    "breaks": ["QM-14"],
    "rules_off": [{"rule": "kvp_host_updated", "vm": "web 01"}],
}


def _bad(**change: object) -> dict[str, object]:
    return {**GOOD, **change}


def test_good_profile_parses() -> None:
    profile = parse_profile(GOOD, "p.yaml")
    assert profile.breaks == ("QM-14",)
    assert primary_claims([profile]) == ("QM-14",)


@pytest.mark.parametrize(
    ("doc", "location", "reason"),
    [
        (_bad(rules_off=[{"rule": "no_such_rule"}]), "$.rules_off[0].rule", "unknown rule"),
        (_bad(breaks=["QM-23"]), "$.breaks[0]", "does not match"),
        (_bad(breaks=[]), "$.breaks", "should be non-empty"),
        (_bad(breaks=["QM-01"]), "$.breaks", "QM-14"),
        (_bad(rules_off=[{"rule": "drain_evacuates", "vm": "x"}]), "$.rules_off[0].vm", "per vm"),
        (_bad(extra=1), "$", "Additional properties"),
        ({k: v for k, v in GOOD.items() if k != "breaks"}, "$", "'breaks' is a required"),
        ([1], "$", "mapping"),
    ],
)
def test_bad_profiles_name_place_and_reason(doc: object, location: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        parse_profile(doc, "bad.yaml")
    assert info.value.source == "bad.yaml"
    assert info.value.location == location
    assert reason in info.value.reason


def test_profile_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: a\nname: b\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate key"):
        load_profile(path)


def test_shipped_profiles_cover_every_rule_and_claim() -> None:
    profiles = shipped_profiles()
    rules = {entry["rule"] for p in profiles for entry in p.rules_off}
    assert rules == {r.id for r in RULES}
    assert set(primary_claims(profiles)) == set(CLAIMS)
    assert len({p.name for p in profiles}) == len(profiles)
    for profile in profiles:
        assert Path(profile.source).stem == profile.name


def test_every_shipped_profile_applies_to_the_default_topology(tmp_path: Path) -> None:
    for i, profile in enumerate(shipped_profiles()):
        folder = tmp_path / str(i)
        folder.mkdir()
        topology = load_topology(write_profiled_topology(folder, [profile]))
        assert len(topology.rules_off) == len(profile.rules_off)


def test_profiles_combine_with_the_union_of_their_breaks(tmp_path: Path) -> None:
    a, b = shipped_profiles("kvp-host-name-not-updated.yaml") + shipped_profiles(
        "cluster-disk-not-transferred.yaml"
    )
    topology = load_topology(write_profiled_topology(tmp_path, [a, b]))
    assert {r.rule for r in topology.rules_off} == {"kvp_host_updated", "disk_ownership_follows"}
    assert expected_breaks([a, b]) == tuple(sorted(set(a.breaks) | set(b.breaks)))
    # The rest of the default topology is kept as written (Off stays a string, names intact).
    default = load_default_topology()
    assert [(v.name, v.state) for v in topology.vms] == [(v.name, v.state) for v in default.vms]


def test_profile_naming_an_unknown_vm_is_refused(tmp_path: Path) -> None:
    profile = parse_profile(_bad(rules_off=[{"rule": "kvp_host_updated", "vm": "ghost"}]), "g")
    with pytest.raises(InputError) as info:
        write_profiled_topology(tmp_path, [profile])
    assert (info.value.source, info.value.location) == ("g", "$.rules_off[0].vm")
    assert not (tmp_path / "topology.yaml").exists()
