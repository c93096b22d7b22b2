"""Allure extras: categories, environment, labels, finding and running Allure 3."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from harness.domain import claims
from harness.evidence import allure as report
from harness.evidence.records import TargetIdentity
from harness.redact import clear_secrets, register_secret

REPO = Path(__file__).resolve().parents[2]
LOCAL_ALLURE = REPO / "tools" / "allure" / "node_modules" / ".bin" / "allure"


def target() -> TargetIdentity:
    return TargetIdentity(
        spec="inventory.yaml",
        kind="cluster",
        cluster="HVCLUSTER01",
        nodes=[{"name": "HV01", "os_build": "20348.2227"}, {"name": "HV02", "os_build": None}],
        harness_version="0.1.0",
    )


def test_categories_tell_failed_from_broken(tmp_path: Path) -> None:
    cats = json.loads(report.write_categories(tmp_path).read_text(encoding="utf-8"))
    by_status = {tuple(c["matchedStatuses"]): c["name"] for c in cats}
    assert by_status[("failed",)] == "Claim violated"
    assert by_status[("broken",)] == "Evidence could not be gathered"
    assert by_status[("skipped",)].startswith("Skipped")


def test_categories_match_allurerc() -> None:
    # The awesome report reads the config, Allure 2 readers read categories.json: keep in step.
    config = report.ALLURE_CONFIG.read_text(encoding="utf-8")
    for cat in report.CATEGORIES:
        assert f'name: "{cat["name"]}", matchedStatuses: {json.dumps(cat["matchedStatuses"])}' in (
            config
        )


def parse_properties(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def test_environment_properties(tmp_path: Path) -> None:
    clear_secrets()
    register_secret("pw-in-url")
    path = report.write_allure_environment(
        tmp_path, target(), {"transport": "ntlm", "endpoint": "https://x:pw-in-url@hv01:5986"}
    )
    props = parse_properties(path.read_text(encoding="ascii"))
    clear_secrets()
    assert props["target"] == "inventory.yaml"
    assert props["cluster"] == "HVCLUSTER01"
    assert props["nodes"] == "HV01 (20348.2227), HV02"
    assert props["harness.version"] == "0.1.0"
    assert props["transport"] == "ntlm"
    assert "pw-in-url" not in path.read_text(encoding="ascii")
    assert props["endpoint"].startswith("https\\://")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a=b:c", "a\\=b\\:c"),
        (" lead", "\\ lead"),
        ("two\nlines", "two\\nlines"),
        ("back\\slash", "back\\\\slash"),
        ("Zürich", "Z\\u00fcrich"),
    ],
)
def test_property_escaping(raw: str, escaped: str) -> None:
    assert report._escape_property(raw, key=False) == escaped


class FakeAllure:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda value: self.calls.append((name, value))


@pytest.mark.parametrize(
    ("claim", "core", "severity", "story"),
    [
        ("QM-02", True, "critical", "QM-02 Saved state on shared storage"),
        ("QM-09", False, "normal", "QM-09 Downtime depends on memory and disk, not network"),
        ("QM-99", False, "normal", "QM-99"),
    ],
)
def test_allure_labels(
    monkeypatch: pytest.MonkeyPatch, claim: str, core: bool, severity: str, story: str
) -> None:
    import allure

    fake = FakeAllure()
    monkeypatch.setattr(allure, "dynamic", fake)
    report.allure_labels(claim, "Some feature", core)
    calls = {name: getattr(value, "value", value) for name, value in fake.calls}
    assert calls == {
        "epic": "Hyper-V Quick Migration",
        "feature": "Some feature",
        "story": story,
        "severity": severity,
        "tag": "checked by move",
    }


def test_allure_tags_how_a_claim_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    import allure

    fake = FakeAllure()
    monkeypatch.setattr(allure, "dynamic", fake)
    report.allure_labels("QM-01", "Passive audit", False, "history")
    assert ("tag", "checked by history") in fake.calls


def test_core_claims_have_titles() -> None:
    assert set(claims.CLAIM_TITLES) >= claims.CORE_CLAIMS
    assert sorted(claims.CLAIM_TITLES) == [f"QM-{n:02d}" for n in range(1, 23)]


def test_find_allure_prefers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_ALLURE", "npx --offline allure")
    assert report.find_allure() == ["npx", "--offline", "allure"]


def fake_allure3(folder: Path, version: str) -> Path:
    script = folder / "allure"
    script.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_find_allure_without_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QM_ALLURE", raising=False)
    # No checkout copy (the repo root points elsewhere) and no allure on PATH: nothing.
    monkeypatch.setattr(report, "_repo_root", lambda: tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert report.find_allure() is None
    # An Allure 2 on PATH is not used; an Allure 3 is.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    fake_allure3(bin_dir, "2.30.0")
    assert report.find_allure() is None
    script = fake_allure3(bin_dir, "3.18.0")
    assert report.find_allure() == [str(script)]


@pytest.mark.skipif(
    not (LOCAL_ALLURE.is_file() and shutil.which("node")),
    reason="Allure 3 not installed: run `npm ci --prefix tools/allure` (needs Node.js)",
)
def test_find_allure_uses_checkout_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QM_ALLURE", raising=False)
    assert report.find_allure() == [str(LOCAL_ALLURE)]


def test_generate_html_without_allure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "find_allure", lambda: None)
    ok, message = report.generate_html(tmp_path / "res", tmp_path / "out")
    assert not ok
    assert "npm ci --prefix tools/allure" in message
    assert f"generate {tmp_path / 'res'} -o {tmp_path / 'out'}" in message


def test_generate_html_without_allure_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed package: no tools/allure beside it; the hint names the tool and the config.
    monkeypatch.setattr(report, "find_allure", lambda: None)
    monkeypatch.setattr(report, "user_allure", lambda: (None, "npm not found on PATH"))
    monkeypatch.setattr(report, "_REPO", tmp_path / "site-packages")
    ok, message = report.generate_html(tmp_path / "res", tmp_path / "out")
    assert not ok
    assert f"Allure {report.ALLURE_VERSION}" in message and "QM_ALLURE" in message
    assert "npm not found on PATH" in message
    assert f"--config {report.ALLURE_CONFIG}" in message and "tools/allure" not in message


def test_generate_html_reports_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "allure"
    broken.write_text("#!/bin/sh\necho 'boom: bad results' >&2\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    monkeypatch.setattr(report, "find_allure", lambda: [str(broken)])
    (tmp_path / "res").mkdir()
    ok, message = report.generate_html(tmp_path / "res", tmp_path / "out")
    assert not ok
    assert "boom: bad results" in message


def test_generate_html_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "allure"
    slow.write_text("#!/bin/sh\nexec sleep 5\n", encoding="utf-8")
    slow.chmod(0o755)
    monkeypatch.setattr(report, "find_allure", lambda: [str(slow)])
    (tmp_path / "res").mkdir()
    ok, message = report.generate_html(tmp_path / "res", tmp_path / "out", timeout_s=0.3)
    assert not ok
    assert "took over 0.3 s" in message


def write_result(results: Path, name: str, status: str, uuid: str) -> None:
    doc = {
        "uuid": uuid,
        "historyId": f"h-{uuid}",
        "name": name,
        "fullName": name,
        "status": status,
        "statusDetails": {"message": f"{name} {status}"},
        "start": 1796000000000,
        "stop": 1796000001000,
        "labels": [{"name": "story", "value": "QM-02 Saved state on shared storage"}],
        "steps": [{"name": "Given a lab cluster", "status": "passed", "start": 1, "stop": 2}],
    }
    (results / f"{uuid}-result.json").write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.skipif(
    report.find_allure() is None,
    reason="Allure 3 not installed: run `npm ci --prefix tools/allure` (needs Node.js)",
)
def test_generate_html_single_file(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    write_result(results, "violated scenario", "failed", "0a" * 16)
    write_result(results, "unverified scenario", "broken", "0b" * 16)
    report.write_categories(results)
    report.write_allure_environment(results, target(), {})
    out = tmp_path / "report"
    ok, message = report.generate_html(results, out, timeout_s=120)
    assert ok, message
    index = out / "index.html"
    assert index.is_file() and index.stat().st_size > 10_000
    assert str(index) in message
    # Single file: no separate data folder to lose when the report is filed.
    assert not (out / "data").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["stats"] == {"total": 2, "failed": 1, "broken": 1}
    assert os.path.getsize(index) > 0


def test_allure_version_hint_matches_the_pin() -> None:
    package = json.loads((REPO / "tools" / "allure" / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["allure"] == report.ALLURE_VERSION
