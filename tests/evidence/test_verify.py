"""`qmaudit verify` and `qmaudit sign`: every kind of tampering detected, with a clear message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.evidence.manifest import write_manifest
from harness.evidence.signing import NAMESPACE, load_signer, sign_manifest
from tests.evidence.conftest import KeyFiles, write_key
from tests.evidence.test_manifest import make_run

RUN_ID = "20261127T231500Z-3f9a"


def signed_run(run_dir: Path, keys: KeyFiles) -> Path:
    make_run(run_dir)
    (run_dir / "summary.html").write_text("<html><body>QM-02</body></html>", encoding="utf-8")
    write_manifest(run_dir, RUN_ID, {})
    sign_manifest(run_dir, load_signer(keys.private))
    return run_dir


def verify(
    run_dir: Path, keys: KeyFiles | None, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = ["verify", str(run_dir)]
    if keys is not None:
        argv += ["--allowed-signers", str(keys.allowed_signers)]
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_signed_run_verifies(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = signed_run(tmp_path / "run", key_files)
    rc, out = verify(run, key_files, capsys)
    assert rc == 0, out
    assert f"GOOD: signed by {key_files.principal}" in out
    assert "OK: every file matches the signed manifest" in out
    # The HTML an auditor keeps is covered.
    listed = {f["path"] for f in json.loads((run / "manifest.json").read_text())["files"]}
    assert {"report/index.html", "summary.html"} <= listed


def test_standard_tool_verifies_the_manifest(
    tmp_path: Path, key_files: KeyFiles, ssh_keygen: str
) -> None:
    run = signed_run(tmp_path / "run", key_files)
    args = [ssh_keygen, "-Y", "verify", "-f", str(key_files.allowed_signers)]
    done = subprocess.run(
        [*args, "-I", key_files.principal, "-n", NAMESPACE, "-s", str(run / "manifest.json.sig")],
        stdin=(run / "manifest.json").open("rb"),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"Good" in done.stdout


def _flip_byte(run: Path) -> str:
    path = sorted((run / "evidence").glob("*.json"))[0]
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    return f"CHANGED   evidence/{path.name}"


def _remove(run: Path) -> str:
    (run / "junit.xml").unlink()
    return "MISSING   junit.xml"


def _add(run: Path) -> str:
    (run / "evidence" / "999-QM-02-forged.json").write_text("{}", encoding="utf-8")
    return "ADDED     evidence/999-QM-02-forged.json"


def _edit_manifest(run: Path) -> str:
    path = run / "manifest.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["summary"]["claims"]["QM-03"] = "passed"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return "signature BAD: the signature does not match manifest.json"


def _edit_manifest_and_file(run: Path) -> str:
    # A forger who changes a file and updates its hash: the files match, the signature does not.
    path = run / "junit.xml"
    path.write_text("<testsuites><testsuite failures='0'/></testsuites>", encoding="utf-8")
    write_manifest(run, RUN_ID, {})
    return "signature BAD: the signature does not match manifest.json"


def _other_key(run: Path) -> str:
    other = write_key(run.parent, name="mallory")
    write_manifest(run, RUN_ID, {})
    sign_manifest(run, load_signer(other.private))
    return "which the allowed-signers file does not allow"


def _change_report(run: Path) -> str:
    (run / "report" / "index.html").write_text("<html>rewritten</html>", encoding="utf-8")
    return "CHANGED   report/index.html"


def _unsign(run: Path) -> str:
    (run / "manifest.json.sig").unlink()
    return "not signed"


@pytest.mark.parametrize(
    "tamper",
    [
        _flip_byte,
        _remove,
        _add,
        _edit_manifest,
        _edit_manifest_and_file,
        _other_key,
        _change_report,
        _unsign,
    ],
)
def test_tampering_detected(
    tmp_path: Path, key_files: KeyFiles, tamper: object, capsys: pytest.CaptureFixture[str]
) -> None:
    run = signed_run(tmp_path / "run", key_files)
    assert verify(run, key_files, capsys)[0] == 0
    needle = tamper(run)  # type: ignore[operator]
    rc, out = verify(run, key_files, capsys)
    assert rc == 1, out
    assert needle in out, out
    assert "FAILED" in out


def test_unsigned_run_without_signers_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_run(tmp_path / "run")
    write_manifest(tmp_path / "run", RUN_ID, {})
    rc, out = verify(tmp_path / "run", None, capsys)
    assert rc == 0 and "the manifest is NOT signed" in out
    _flip_byte(tmp_path / "run")
    assert verify(tmp_path / "run", None, capsys)[0] == 1


def test_unreadable_manifest_fails(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = signed_run(tmp_path / "run", key_files)
    (run / "manifest.json").write_text("{not json", encoding="utf-8")
    rc, out = verify(run, key_files, capsys)
    assert rc == 1 and "manifest.json is unreadable" in out


def test_missing_run_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = verify(tmp_path / "nope", None, capsys)
    assert rc == 2 and "run folder not found" in out


def test_sign_later_and_refuse_tampered(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    make_run(run)
    write_manifest(run, RUN_ID, {})
    assert main(["sign", str(run), "--key", str(key_files.private)]) == 0
    assert verify(run, key_files, capsys)[0] == 0
    _flip_byte(run)
    (run / "manifest.json.sig").unlink()
    assert main(["sign", str(run), "--key", str(key_files.private)]) == 1
    assert "files differ from the manifest" in capsys.readouterr().err
    assert not (run / "manifest.json.sig").exists()
