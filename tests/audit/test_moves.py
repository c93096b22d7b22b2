"""The audit's move procedure, downtime measurement and leave-as-found, on the lab model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from harness.audit.catalog import Catalog
from harness.audit.cluster import Cluster
from harness.audit.moves import quick_migrate
from harness.drivers.lab import LabDriver
from harness.lab.clock import ManualClock
from harness.lab.model import LabCluster
from harness.lab.topology import load_default_topology, load_topology
from harness.run.restore import Restorer

DEFAULT = Path(__file__).resolve().parents[2] / "harness" / "lab" / "topologies" / "default.yaml"


def _open(topology: Any) -> tuple[Cluster, LabCluster, ManualClock]:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    lab = LabCluster(topology, clock)
    # Every poll lets 0.1 s of lab time pass: the facade never sleeps for real here.
    cluster = Cluster(LabDriver(lab), poll_interval_s=0.1, sleep=clock.advance)
    return cluster, lab, clock


def _with_rule_off(tmp_path: Path, rule: str, **scope: str) -> Any:
    # Edit the text, not a round trip through PyYAML: YAML 1.1 would read the state Off as false.
    text = DEFAULT.read_text(encoding="utf-8")
    entry = yaml.safe_dump([{"rule": rule, **scope}], default_flow_style=True).strip()
    assert "rules_off: []" in text
    path = tmp_path / "topology.yaml"
    path.write_text(text.replace("rules_off: []", f"rules_off: {entry}"), encoding="utf-8")
    return load_topology(path)


def test_downtime_from_events_matches_ground_truth() -> None:
    cluster, lab, _ = _open(load_default_topology())
    catalog = Catalog.read(cluster, lambda _n: True)
    for name in ("web 01", "batch01", "legacy01"):
        vm = catalog.get(name)
        target = "HV-B" if vm.owner != "HV-B" else "HV-A"
        (outcome,) = quick_migrate(cluster, [vm], target)
        truth = lab.ground_truth(name)[-1].downtime_s
        assert outcome.downtime_source == "events"
        assert outcome.downtime_s is not None and truth is not None
        assert abs(outcome.downtime_s - truth) <= max(0.01 * truth, 0.1)
        assert outcome.after is not None and outcome.after.owner == target
        registered = [n for n, r in outcome.after.registrations.items() if r.registered]
        assert registered == [target]
        assert outcome.saw_state(frozenset({"Saving", "Saved"}), outcome.source)


def test_refused_move_changes_nothing() -> None:
    cluster, _, _ = _open(load_default_topology())
    vm = Catalog.read(cluster, lambda _n: True).get("web 01")
    (outcome,) = quick_migrate(cluster, [vm], "HV-X")
    assert outcome.refused is not None and "5042" in outcome.refused.target_message
    assert outcome.after is not None and outcome.after.owner == vm.owner
    assert outcome.after.resources == outcome.before.resources


def test_restorer_returns_vm_to_owner_and_state() -> None:
    cluster, _, _ = _open(load_default_topology())
    vm = Catalog.read(cluster, lambda _n: True).get("web 01")
    restorer = Restorer(cluster)
    restorer.remember(vm)
    quick_migrate(cluster, [vm], "HV-C")
    assert restorer.restore() == []
    _, statuses = cluster.move_status([vm.name])
    assert statuses[0]["owner_node"] == vm.owner and statuses[0]["vm_state"] == "Running"


def test_restorer_reports_what_it_cannot_fix(tmp_path: Path) -> None:
    # A cluster that does not resume VMs leaves web 01 Saved: the restorer must say so.
    cluster, _, _ = _open(_with_rule_off(tmp_path, "state_restored", vm="web 01"))
    vm = Catalog.read(cluster, lambda _n: True).get("web 01")
    restorer = Restorer(cluster)
    restorer.remember(vm)
    quick_migrate(cluster, [vm], "HV-C")
    problems = restorer.restore()
    assert problems and "web 01" in problems[0] and "Running" in problems[0]


def test_a_move_right_after_another_does_not_take_its_events() -> None:
    # Back-to-back moves of one VM (a shared move, then the move that returns it): the first
    # move's offline event on its source must not read as the second going offline there.
    from tests.audit.test_invariants import _cluster, _other

    cluster, catalog = _cluster(load_default_topology())
    vm = catalog.get("batch01")  # the smallest: its move lasts under the 2 s event skew
    home = vm.owner
    (first,) = quick_migrate(cluster, [vm], _other(home))
    assert first.role_events(1204, home)
    (second,) = quick_migrate(cluster, [vm], home)
    assert second.source == _other(home)
    assert second.role_events(1204, home) == []
    assert second.role_events(1204, second.source)
