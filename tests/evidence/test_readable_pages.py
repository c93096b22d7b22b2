"""Both pages of a run that did not pass, in Chromium: sentences and rounded figures, no raw
JSON, no float noise, claim ids on one line; the Allure report opens at its header with the
scenarios that did not pass first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.evidence.allure import find_allure
from harness.figures import denoise, figures, number
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology
from tests.evidence.browser import find_chromium, load_offline

NOISE = re.compile(r"\d+\.\d{6,}")
RAW_JSON = ('{"', '":', '["', "\\u00")
# Two backslashes are a UNC path's start (after a space, a colon...), anywhere else an escape.
ESCAPED = re.compile(r"(?<![\s(\[:,])\\\\")


def test_figures_are_plain() -> None:
    assert number(0.9999999999999906) == "1" and number(10.163675999999995) == "10.16"
    assert number(0.0004567) == "0" or number(0.0004567) == "0.0005"
    assert denoise("took 10.163675999999995 s, r2 0.9999999999999906") == "took 10.16 s, r2 1"
    text = figures(files=["\\\\FS1\\VMs\\a.vmrs"], smb={"\\\\fs1\\vms": None}, ok=True)
    assert text == "files: \\\\FS1\\VMs\\a.vmrs; smb: \\\\fs1\\vms: none; ok: yes"


def _visible_problems(text: str) -> list[str]:
    return [s for s in RAW_JSON if s in text] + NOISE.findall(text) + ESCAPED.findall(text)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with a claim violated (QM-12), one not judged (QM-02) and measurements (QM-09)."""
    folder = tmp_path_factory.mktemp("pages")
    profile = load_profile(PROFILES_DIR / "storage-unreachable-from-target.yaml")
    topology = write_profiled_topology(folder, [profile])
    reports = folder / "reports"
    code = main(
        ["run", "--target", f"lab+sim:{topology}", "-m", "QM-02 or QM-12 or QM-09",
         "--reports", str(reports), "--no-history"]
    )  # fmt: skip
    assert code == 1
    (run_dir,) = [p for p in reports.iterdir() if (p / "manifest.json").is_file()]
    return run_dir


def _chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    return found


def test_summary_page_reads_as_sentences(broken_run: Path) -> None:
    checks = {
        "text": "document.body.innerText",
        # Each claim id is laid out on one line (one client rectangle: it does not wrap).
        "wrapped": "Array.from(document.querySelectorAll('.claim-id'))"
        ".filter(e => e.getClientRects().length > 1).map(e => e.textContent)",
        "ids": "document.querySelectorAll('.claim-id').length",
    }
    _dom, requests = load_offline(_chromium(), broken_run / "summary.html", evaluate=checks)
    assert requests == []
    text = str(checks["text"])
    assert _visible_problems(text) == [], text[:3000]
    assert checks["ids"] and checks["wrapped"] == []
    assert "BROKEN" in text and "evidence too thin to judge" in text
    assert re.search(r"\d s/GiB|\d s\b", text), "measurements with their units"


def test_allure_report_opens_at_its_header_failures_first(broken_run: Path) -> None:
    if find_allure() is None:
        pytest.skip("Allure 3 not installed (npm ci --prefix tools/allure); CI installs it")
    page = broken_run / "report" / "index.html"
    assert page.is_file()
    checks = {
        "scrolled": "window.scrollY + Array.from(document.querySelectorAll('*'))"
        ".reduce((n, e) => n + e.scrollTop, 0)",
        "header": "document.body.innerText.slice(0, 200)",
        "first": "Array.from(document.querySelectorAll('[class*=tree-item-icon]'))"
        ".slice(0, 1).map(e => e.className.toString())[0]",
        # Open the first scenario of the tree and read what the page then shows.
        "opened": "new Promise(done => { document.querySelector('[class*=tree-item]').click();"
        " setTimeout(() => done(document.body.innerText), 3000); })",
    }
    _dom, requests = load_offline(
        _chromium(), page, ready_js="document.querySelector('[class*=tree-item]')", evaluate=checks
    )
    assert requests == []
    assert checks["scrolled"] == 0
    assert "qmaudit: Hyper-V quick migration audit" in str(checks["header"])
    assert re.search(r"status-(failed|broken)", str(checks["first"])), checks["first"]
    opened = str(checks["opened"])
    assert "QM-12" in opened or "reaches the VM's storage" in opened, opened[:2000]
    assert NOISE.findall(opened) == [], opened[:3000]
