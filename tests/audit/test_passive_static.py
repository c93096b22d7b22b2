"""Static invariants on the lab: a clean lab breaks none; each passive defect fails its claim."""

from __future__ import annotations

from typing import Any

import pytest

from harness.audit import passive
from harness.audit.cluster import Cluster
from harness.drivers.lab import LabDriver
from harness.lab.model import LabCluster
from tests.lab.conftest import make_lab


def _snapshot(lab: LabCluster) -> passive.Snapshot:
    return passive.read_snapshot(Cluster(LabDriver(lab)), lambda _vm: True)


def _verdicts(lab: LabCluster) -> dict[str, str]:
    snap = _snapshot(lab)
    return {name: passive.judge(name, snap).verdict for name in passive.JUDGES}


def test_a_clean_lab_fails_nothing_and_only_standing_claims_pass() -> None:
    verdicts = _verdicts(make_lab())
    assert "failed" not in verdicts.values()
    passed = {
        passive.JUDGES[n](_snapshot(make_lab())).claim for n, v in verdicts.items() if v == "passed"
    }
    assert passed <= passive.PROVES


@pytest.mark.parametrize(
    ("rule", "check"),
    [
        (
            {"rule": "offline_action_save", "vm": "batch01", "params": {"value": 3}},
            "offline action",
        ),
        ({"rule": "state_paths_on_vm_storage", "vm": "web 01"}, "state paths"),
        ({"rule": "single_registration", "vm": "web 01"}, "single registration"),
        ({"rule": "registry_view_consistent", "node": "HV-B"}, "registry view"),
        ({"rule": "links_under_program_data", "vm": "legacy01"}, "link roots"),
        ({"rule": "storage_reachable_by_target", "node": "HV-B"}, "owners reach storage"),
    ],
)
def test_each_defect_fails_its_check_and_no_other(rule: dict[str, Any], check: str) -> None:
    verdicts = _verdicts(make_lab([rule]))
    assert verdicts.pop(check) == "failed"
    assert "failed" not in verdicts.values()


def test_a_registration_read_while_the_owner_changed_is_not_judged() -> None:
    lab = make_lab([{"rule": "single_registration", "vm": "web 01"}])
    snap = _snapshot(lab)
    for view in snap.vms:
        view.owner_steady = False  # the second inventory saw another owner: not bracketed
    assert passive.judge_registration(snap).verdict == "not judged"


def test_a_unc_path_a_node_cannot_reach_is_not_judged_second_hop() -> None:
    snap = _snapshot(make_lab())
    app = next(v for v in snap.vms if v.details and v.details.path.startswith("\\\\"))
    for infos in app.reach.values():
        for info in infos.values():
            info["exists"] = False
    snap.vms = [app]
    assert passive.judge_owners_reach(snap).verdict == "not judged"


def test_an_unknown_check_is_a_harness_error() -> None:
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="unknown static check"):
        passive.judge("nonsense", _snapshot(make_lab()))
