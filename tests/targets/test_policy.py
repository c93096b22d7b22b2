"""VM allow/never policy, Target.refusal, the @disruptive selection check, guest parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.drivers.winrm import MASK
from harness.suite.runner import features_dir
from harness.suite.selection import scenario_markers, selects_disruptive
from harness.targets.registry import Target, VmPolicy, open_target

POLICY = VmPolicy(allow=("web*", "App01", "db0[12]"), never=("dc01", "sql*", "web-prod"))


@pytest.mark.parametrize(
    ("vm", "allowed"),
    [
        ("web01", True),
        ("WEB 02", True),
        ("app01", True),
        ("APP01", True),
        ("app011", False),
        ("db02", True),
        ("db03", False),
        ("web-prod", False),  # allowed by web*, but never-touch wins
        ("WEB-PROD", False),
        ("SQL-01", False),
        ("dc01", False),
        ("mail01", False),
    ],
)
def test_policy_matching(vm: str, allowed: bool) -> None:
    assert POLICY.allows(vm) is allowed
    assert (POLICY.refusal(vm) is None) is allowed


def test_refusal_reasons_name_the_list() -> None:
    never = POLICY.refusal("web-prod")
    outside = POLICY.refusal("mail01")
    assert never is not None and "never-touch" in never and "'web-prod'" in never
    assert outside is not None and "allowlist" in outside and "'mail01'" in outside


def test_empty_allowlist_allows_nothing() -> None:
    assert VmPolicy().refusal("anything") is not None


def test_lab_target_refuses_nothing_and_has_lab_actions() -> None:
    target = open_target("lab+inproc")
    try:
        assert target.refusal("web 01") is None
        assert target.lab_actions is True and target.guest_params() == {}
    finally:
        target.close()


def test_scenario_markers_of_the_real_features() -> None:
    scenarios = scenario_markers(features_dir())
    assert len(scenarios) >= 22
    assert all("claim" in s for s in scenarios)
    assert any({"disruptive", "destructive", "lab-only", "QM-19"} <= s for s in scenarios)
    assert selects_disruptive(None, features_dir())
    assert not selects_disruptive("not disruptive", features_dir())


FEATURES = {
    "moves.feature": """@disruptive
Feature: moves
  @core @claim:QM-02
  Scenario: a move
    Given x

  @claim:QM-07
  Scenario Outline: several
    Given <y>
    Examples:
      | y |
      | 1 |
""",
    "reads.feature": """Feature: read-only checks
  @core @claim:QM-13
  Scenario: a read
    Given x
""",
}


@pytest.fixture
def features(tmp_path: Path) -> Path:
    for name, text in FEATURES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_scenario_markers_parse_feature_and_scenario_tags(features: Path) -> None:
    scenarios = sorted(scenario_markers(features), key=sorted)
    assert {"disruptive", "core", "claim", "claim:QM-02", "QM-02"} in scenarios
    assert {"disruptive", "claim", "claim:QM-07", "QM-07"} in scenarios
    assert {"core", "claim", "claim:QM-13", "QM-13"} in scenarios
    assert len(scenarios) == 3


@pytest.mark.parametrize(
    ("markers", "expected"),
    [
        (None, True),
        ("", True),
        ("core", True),
        ("QM-13", False),
        ("QM-07", True),
        ("not disruptive", False),
        ("core and not disruptive", False),
        ("QM-13 or QM-02", True),
        ("nosuchmarker", False),
    ],
)
def test_selects_disruptive(markers: str | None, expected: bool, features: Path) -> None:
    assert selects_disruptive(markers, features) is expected


def test_inventory_target_is_a_cluster(
    served_lab: object,
    lab_env: dict[str, str],
    lab_inventory_doc: dict[str, object],
    tmp_path: Path,
) -> None:
    from tests.targets.conftest import write_inventory

    doc = dict(lab_inventory_doc)
    doc["vms"] = {"allow": ["web*", "db01"], "never": ["web 02"]}
    doc["lab_actions"] = False
    doc["allow_destructive"] = False
    doc["guest_credentials"] = {"username_env": "QMT_GUEST_USER", "password_env": "QMT_GUEST_PW"}
    path = write_inventory(tmp_path / "inv.yaml", doc)
    import os

    os.environ["QMT_GUEST_USER"] = "guest-admin"
    os.environ["QMT_GUEST_PW"] = "guest-secret-771"
    try:
        target = open_target(str(path))
    finally:
        del os.environ["QMT_GUEST_USER"], os.environ["QMT_GUEST_PW"]
    try:
        assert target.kind == "cluster" and not target.lab_actions
        assert not target.allow_destructive
        assert target.allow_vm("WEB 01") and not target.allow_vm("web 02")
        reason = target.refusal("web 02")
        assert reason is not None and "never-touch" in reason
        assert target.guest_params() == {
            "guest_user": "guest-admin",
            "guest_password": "guest-secret-771",
        }
        doc_clock = target.driver.run_probe("guest_clock", {"vm_name": "web 01"}, "HV-A")
        assert doc_clock["guest_utc"]
        record = target.driver.transcript[-1]  # type: ignore[attr-defined]
        assert record.params["guest_user"] == "guest-admin"
        assert record.params["guest_password"] == MASK
        assert "guest-secret-771" not in repr(target)
    finally:
        target.close()


def test_target_refusal_without_policy_uses_allow_vm() -> None:
    target = Target(spec="x", kind="cluster", driver=None, allow_vm=lambda n: n == "ok")  # type: ignore[arg-type]
    assert target.refusal("ok") is None
    assert target.refusal("other") is not None
