"""QM-14 names two values: the KVP host name is judged in its short and fully qualified forms."""

from __future__ import annotations

import pytest

from harness.audit.kvp import kvp_names_host


@pytest.mark.parametrize(
    ("short", "qualified", "ok"),
    [
        ("HV-B", "hv-b.corp.example", True),
        ("hv-b", "HV-B.corp.example", True),
        ("HV-B", "hv-a.corp.example", False),  # the qualified form still names the source
        ("HV-A", "hv-b.corp.example", False),
        ("HV-B", "hv-b", False),  # not qualified at all
        ("HV-B", "", False),
    ],
)
def test_both_forms_must_name_the_new_host(short: str, qualified: str, ok: bool) -> None:
    items = {"PhysicalHostName": short, "PhysicalHostNameFullyQualified": qualified}
    assert kvp_names_host(items, "HV-B") is ok
