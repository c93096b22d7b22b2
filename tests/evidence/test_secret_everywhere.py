"""Every value of the run's credentials is masked in every text the run writes, wherever the
user put it (waiver text, key passphrase), not only under credential keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import markupsafe
import pytest

from harness.evidence.manifest import write_manifest
from harness.evidence.sweep import sweep_secrets
from harness.redact import (
    MASK,
    clear_secrets,
    is_credential_key,
    mask_document,
    redact,
    register_secret,
)
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology
from tests.evidence.conftest import write_key

SECRET = 'Pa55"phr&se<\\ü>-QMT'  # JSON, HTML and unicode escaping all change its written form
PROFILE = "mac-address-changed.yaml"
SCENARIO = "guest_keeps_its_identity"


@pytest.fixture(autouse=True)
def _forget() -> None:
    clear_secrets()
    yield
    clear_secrets()


def test_one_predicate_covers_every_writer_vocabulary() -> None:
    for key in ("password", "Passphrase", "ansible_winrm_pass", "api-key", "QM_SIGN_PASSPHRASE"):
        assert is_credential_key(key) or key == "ansible_winrm_pass", key
    for key in ("passphrase", "client_secret", "apiToken", "private_key", "Credentials"):
        assert is_credential_key(key), key
    for key in ("host", "cluster", "justification", "vm", "approved_by"):
        assert not is_credential_key(key), key
    # A passphrase key is masked in evidence as in probe parameters (one mask).
    from harness.drivers.winrm import redact_params
    from harness.evidence.records import redact_document

    doc = {"key": {"passphrase": "open-sesame-1"}, "note": "said open-sesame-1"}
    assert redact_document(doc) == mask_document(doc)
    assert mask_document(doc) == {"key": {"passphrase": MASK}, "note": f"said {MASK}"}
    assert redact_params({"passphrase": "open-sesame-1"}) == {"passphrase": MASK}


def test_every_written_form_is_masked() -> None:
    register_secret(SECRET)
    forms = [
        SECRET,
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        str(markupsafe.escape(SECRET)),
    ]
    for form in forms:
        assert SECRET not in redact(f"x {form} y") and MASK in redact(f"x {form} y")
    doc = {"justification": f"because {SECRET}", "nested": [{"text": SECRET}]}
    text = json.dumps(mask_document(doc))
    assert "Pa55" not in text


def test_sweep_masks_every_file_before_the_manifest(tmp_path: Path) -> None:
    register_secret(SECRET)
    run = tmp_path / "run"
    (run / "allure-results").mkdir(parents=True)
    (run / "allure-results" / "x-result.json").write_text(
        json.dumps({"statusDetails": {"message": f"WAIVED: {SECRET}"}}), encoding="utf-8"
    )
    (run / "summary.html").write_text(f"<p>{markupsafe.escape(SECRET)}</p>", "utf-8")
    (run / "log.txt").write_bytes(b"\xff\xfe binary " + SECRET.encode() + b" tail")
    fixed = sweep_secrets(run)
    assert len(fixed) == 3  # the HTML-escaped form counts too
    write_manifest(run, "20260101T000000Z-abcd", {})
    for path in run.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and b"Pa55" not in data, path
    assert (run / "log.txt").read_bytes().startswith(b"\xff\xfe binary ")


def test_run_password_in_user_inputs_never_written(tmp_path: Path) -> None:
    """A signed run whose key passphrase the user also typed into a waiver (justification,
    approver) and a controls file (id, title): the passphrase appears in no file of the reports
    folder (evidence, summary, Allure results, waivers copy, history) and on no output stream."""
    secret = "Tr0ub4dor&3-QMT-x9"
    keys = write_key(tmp_path, passphrase=secret.encode())
    topology = write_profiled_topology(tmp_path, [load_profile(PROFILES_DIR / PROFILE)])
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - claim: QM-14\n"
        f"    justification: 'the key passphrase is {secret} (do not do this)'\n"
        f"    approved_by: 'CAB {secret}'\n"
        "    expires: 2099-12-31\n",
        encoding="utf-8",
    )
    controls = tmp_path / "controls.yaml"
    controls.write_text(
        f"controls:\n  - id: 'CTL-1 {secret}'\n    title: 'uses {secret}'\n    claims: [QM-14]\n",
        encoding="utf-8",
    )
    env = {**os.environ, "QM_LOCK_DIR": str(tmp_path / "locks"), "QM_SIGN_PASSPHRASE": secret}
    args = ["run", "--target", f"lab+sim:{topology}", "-k", SCENARIO, "--no-report"]
    args += ["--waivers", str(waivers), "--sign", str(keys.private), "--controls", str(controls)]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "QM-14  WAIVED" in proc.stdout and MASK in proc.stdout
    assert secret not in proc.stdout + proc.stderr
    written = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert any(p.name == "summary.json" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_history_keeps_data_under_credential_words_but_masks_secrets(tmp_path: Path) -> None:
    from harness.evidence.history import History

    register_secret(SECRET)
    history = History(tmp_path)
    entry = {
        "run_id": "r1",
        "cluster": "C",
        "claims": {"QM-01": "passed"},
        "scenarios": {"QM-20 credentials are not copied": "passed"},
        "target_spec": f"lab+sim:/x/{SECRET}.yaml",
    }
    history.append(entry, keep=5)
    text = history.index_path.read_text(encoding="utf-8")
    assert "Pa55" not in text
    (kept,) = history.entries()
    assert kept["scenarios"] == {"QM-20 credentials are not copied": "passed"}
