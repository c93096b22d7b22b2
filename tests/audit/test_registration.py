"""A registration is what Get-VM (and, for 5.0, the symbolic link) shows on a node."""

from __future__ import annotations

from typing import Any

from harness.audit.objects import Registration
from tests.probes.conftest import sample_doc


def _doc(**changes: Any) -> dict[str, Any]:
    doc = sample_doc("vm_registration")
    doc.update(changes)
    return doc


def test_a_leftover_cache_entry_alone_is_not_a_registration() -> None:
    vid = "5D2C9B1A-0E4F-4A6B-B7C8-D9E0F1A2B3C4"
    stale = Registration.from_doc(
        _doc(
            entries=[],
            cache_entries=[{"name": f"{vid}.vmcx", "bytes": 24576}],
            vm_known=False,
            config_version=None,
        )
    )
    assert not stale.registered
    assert stale.cache_entries == (f"{vid}.vmcx",)


def test_the_host_wide_store_says_nothing_about_one_vm() -> None:
    for present in (True, False):
        doc = _doc(entries=[], cache_entries=[], vm_known=False, config_version=None)
        doc["host_store"]["present"] = present
        assert not Registration.from_doc(doc).registered
    known = Registration.from_doc(_doc(entries=[], vm_known=True, config_version="9.0"))
    assert known.registered and known.config_version == "9.0"


def test_a_version_5_link_left_behind_still_registers() -> None:
    reg = Registration.from_doc(_doc(vm_known=False, config_version=None))
    assert reg.links and reg.registered
