"""VM selection covers the extremes: largest, smallest, each version and storage kind, in turn."""

from __future__ import annotations

from harness.audit.catalog import Catalog, VmFacts, extremes_first


def _vm(name: str, mib: int, version: str = "9.0", storage: str = "CSV") -> VmFacts:
    return VmFacts(
        name, name, name, "HV-A", "Running", mib * 2**20, version, "C:\\x", storage,  # type: ignore[arg-type]
        False, True, "OK", 2000, (), (),
    )  # fmt: skip


def test_extremes_come_first_then_each_version_and_storage_kind() -> None:
    vms = [
        _vm("a", 1024),
        _vm("b", 8192),
        _vm("c", 512),
        _vm("d", 2048, "5.0"),
        _vm("e", 1024, storage="SMB 3"),
        _vm("f", 1024),
    ]
    order = [v.name for v in extremes_first(vms)]
    assert order[:2] == ["b", "c"]  # largest, smallest
    assert order[2:4] == ["d", "e"]  # the only 5.0 VM, the only SMB 3 VM
    assert sorted(order) == ["a", "b", "c", "d", "e", "f"]


def test_rotation_takes_the_next_vm_per_given_and_wraps() -> None:
    catalog = Catalog([_vm("a", 1024), _vm("b", 4096), _vm("c", 512)], lambda _n: True)
    picks = [catalog.rotate("running/CSV") for _ in range(4)]
    assert [v.name for v in picks if v] == ["b", "c", "a", "b"]
    # Another Given keeps its own turn; nothing eligible gives None.
    assert (catalog.rotate("running/CSV/9.0") or _vm("z", 1)).name == "b"
    assert catalog.rotate("none", lambda v: False) is None
