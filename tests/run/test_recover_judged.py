"""`qmaudit recover` judges the moves it makes and holds the run lease like a run."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.guard import ActionGuard
from harness.audit.journal import JOURNAL_FILE, Journal, load_state, read_journal
from harness.audit.lock import ClusterLock
from harness.audit.moves import quick_migrate
from harness.drivers.lab import LabDriver
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology
from harness.run import recover as recover_mod
from harness.run.lease import RunLease
from tests.audit.test_moves import _with_rule_off
from tests.run.conftest import ServedLab

VM = "web 01"


def _moved_away(topology: object, tmp_path: Path) -> tuple[Cluster, str]:
    """A lab whose VM an interrupted run left on another node; returns its original owner."""
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    lab = LabCluster(topology, clock)  # type: ignore[arg-type]
    cluster = Cluster(LabDriver(lab), poll_interval_s=0.1, sleep=clock.advance)
    vm = Catalog.read(cluster, lambda _n: True).get(VM)
    quick_migrate(cluster, [vm], "HV-B" if vm.owner != "HV-B" else "HV-A")
    cluster.guard = ActionGuard(
        "QMLAB",
        lambda _vm: None,
        Journal(tmp_path / JOURNAL_FILE, writer="recover"),
        ClusterLock("QMLAB", tmp_path / "locks"),
    )
    return cluster, vm.owner


def _return(cluster: Cluster, owner: str) -> tuple[int, str]:
    out = io.StringIO()
    catalog = Catalog.read(cluster, lambda _n: True)
    code = recover_mod._return_vm(cluster, VM, owner, "Running", 900, out, catalog, "run-1")
    return code, out.getvalue()


def test_a_clean_recover_move_is_judged_and_passes(tmp_path: Path) -> None:
    cluster, owner = _moved_away(load_default_topology(), tmp_path)
    code, out = _return(cluster, owner)
    assert code == 0, out
    assert "as found" in out and "BROKEN" not in out


@pytest.mark.parametrize(
    ("rule", "claim"), [("files_stay", "QM-04"), ("registration_removed_from_source", "QM-03")]
)
def test_a_recover_move_that_breaks_an_invariant_is_printed_and_exits_nonzero(
    tmp_path: Path, rule: str, claim: str
) -> None:
    cluster, owner = _moved_away(_with_rule_off(tmp_path, rule), tmp_path)
    code, out = _return(cluster, owner)
    assert code == 1
    assert "MOVE INVARIANTS BROKEN" in out and "recover move of scenario 'run-1'" in out
    assert claim in out.split("[move invariants broken:")[1]
    # The VM is returned all the same, and the journal says so.
    assert cluster.inventory().group_of(VM).owner_node == owner
    cluster.guard.close()  # type: ignore[union-attr]
    (restored,) = [e for e in read_journal(tmp_path / JOURNAL_FILE) if e["kind"] == "restored"]
    assert restored["vm"] == VM and restored["ok"] is True


def test_recover_refuses_while_a_live_run_holds_the_clusters_lease(
    served: ServedLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QM_LOCK_DIR", served.env["QM_LOCK_DIR"])
    run_dir = served.cwd / "reports" / "run-live"
    run_dir.mkdir(parents=True)
    journal = Journal(run_dir / JOURNAL_FILE)
    journal.write(
        "header", target_spec=str(served.inventory), target_kind="inventory", cluster="QMLAB"
    )
    with served.model.session():
        vm = next(v for v in served.model.vms.values() if v.state == "Running")
    journal.write("remember", vm=vm.spec.name, owner="HV-C", state="Running")
    journal.close()
    live = RunLease("QMLAB", "run-live")  # the interrupted run is still alive: this process
    live.acquire(0)
    try:
        before = served.truth()
        recover = served.qmaudit("recover", str(run_dir))
        out, err = recover.communicate(timeout=120)
        assert recover.returncode == 2, out + err
        assert "in use by run run-live" in err
        assert served.truth() == before and served.moves() == 0
        assert not load_state(run_dir / JOURNAL_FILE).complete
    finally:
        live.release()
