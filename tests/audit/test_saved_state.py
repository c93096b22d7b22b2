"""Saved-state files exist while a VM runs: a save is judged by what changes, not by presence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster, MoveSample
from harness.audit.moves import MoveOutcome, quick_migrate
from harness.audit.objects import SavedFile
from harness.audit.savedstate import changed, written_files
from harness.drivers.lab import LabDriver
from harness.errors import HarnessError
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology
from harness.run.scenario import Scenario
from harness.schemas import parse_probe_output
from steps.checks_move import saved_files_seen, saved_on_source

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)


def _lab() -> tuple[LabCluster, LabDriver, ManualClock]:
    clock = ManualClock(START)
    lab = LabCluster(load_default_topology(), clock)
    return lab, LabDriver(lab), clock


def _files(driver: Any, lab: LabCluster, name: str) -> list[dict[str, Any]]:
    vm = lab.vm(name)
    doc = driver.run_probe("vm_details", {"vm_id": vm.vm_id}, vm.owner)
    return list(doc["vm"]["saved_state_files"])


def test_a_running_version_9_vm_already_has_its_vmrs_and_vmgs() -> None:
    lab, driver, _ = _lab()
    files = _files(driver, lab, "web 01")
    assert lab.vm("web 01").state == "Running"
    assert sorted(f["path"].rsplit(".", 1)[1].lower() for f in files) == ["vmgs", "vmrs"]
    vmrs = next(f for f in files if f["path"].lower().endswith(".vmrs"))
    assert vmrs["bytes"] < lab.vm("web 01").memory_bytes


def test_a_running_version_5_vm_already_has_a_memory_sized_bin() -> None:
    lab, driver, _ = _lab()
    files = {f["path"].rsplit(".", 1)[1].lower(): f for f in _files(driver, lab, "legacy01")}
    assert set(files) == {"bin", "vsv"}
    assert files["bin"]["bytes"] == lab.vm("legacy01").memory_bytes


def test_presence_alone_is_not_a_write() -> None:
    before = SavedFile("C:\\ClusterStorage\\Volume1\\w\\A.vmrs", 28672, START)
    assert not changed(before, before, START)
    assert changed(before, SavedFile(before.path, 2**30, START), START)
    assert changed(before, SavedFile(before.path, 28672, LATER), START)
    sample = _listed("HV-A", (before,))
    assert written_files([before], [sample], "HV-A") == []
    grown = _listed("HV-A", (SavedFile(before.path, 2**30, LATER),))
    assert [f.bytes for f in written_files([before], [grown], "HV-A")] == [2**30]
    new = SavedFile("D:\\local\\A.vmrs", 5, LATER)
    elsewhere = _listed("HV-A", (before, new))
    assert written_files([before], [elsewhere], "HV-A") == [new]
    # Files count for the node whose vm_details listed them, not for the owner the cluster
    # named in another document.
    assert written_files([before], [_listed("HV-B", (before, new))], "HV-A") == []


def _listed(node: str, files: tuple[SavedFile, ...]) -> MoveSample:
    """A poll whose vm_details document of `node` listed `files` (owner HV-A per the cluster)."""
    return MoveSample(
        START,
        "A",
        "HV-A",
        "Pending",
        "Saving",
        saved_state=files,
        view_node=node,
        view_utc=START,
        view_state="Saving",
        view_state_after="Saving",
        view_listing="listed",
    )


class _FrozenFiles:
    """A driver whose vm_details keep showing the saved-state files as first seen (no change)."""

    def __init__(self, inner: LabDriver) -> None:
        self.inner = inner
        self.first: dict[str, list[dict[str, Any]]] = {}

    @property
    def nodes(self) -> list[str]:
        return list(self.inner.nodes)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        doc = self.inner.run_probe(name, params, node)
        if name == "vm_details" and doc["vm"] is not None:
            files = self.first.setdefault(doc["vm"]["id"], doc["vm"]["saved_state_files"])
            doc["vm"]["saved_state_files"] = files
        return parse_probe_output(name, json.dumps(doc))

    def close(self) -> None:
        self.inner.close()


def _scenario(driver: Any, clock: ManualClock, name: str) -> tuple[Scenario, MoveOutcome]:
    cluster = Cluster(driver, poll_interval_s=0.1, sleep=clock.advance)
    vm = Catalog.read(cluster, lambda _n: True).get(name)
    target = "HV-B" if vm.owner != "HV-B" else "HV-A"
    (outcome,) = quick_migrate(cluster, [vm], target)
    run = SimpleNamespace(current=SimpleNamespace(observe=lambda *args, **kwargs: None))
    scn = Scenario(run=run, cluster=cluster, catalog=None, restorer=None, moves=None)  # type: ignore[arg-type]
    scn.outcome = outcome
    return scn, outcome


@pytest.mark.parametrize("name", ["web 01", "legacy01"])
def test_a_save_shows_as_written_files_on_a_healthy_lab(name: str) -> None:
    _, driver, clock = _lab()
    scn, outcome = _scenario(driver, clock, name)
    saved_on_source(scn)
    saved_files_seen(scn)
    assert scn.data["saved_files"]
    baseline = {f.path for f in outcome.before.details.saved_state}  # type: ignore[union-attr]
    # The save rewrote the files Hyper-V already kept: same paths, changed contents.
    assert set(scn.data["saved_files"]) <= baseline


def test_files_that_never_change_do_not_prove_a_save() -> None:
    # Before: the mere presence of .vmrs/.vmgs passed "saved-state files were observed".
    _, driver, clock = _lab()
    scn, _ = _scenario(_FrozenFiles(driver), clock, "web 01")
    saved_on_source(scn)  # the Saving state seen on the source is still a witness
    with pytest.raises(HarnessError, match=r"no saved-state file of .* was seen changing"):
        saved_files_seen(scn)
