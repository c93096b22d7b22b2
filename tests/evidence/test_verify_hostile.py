"""verify refuses what a tampered run folder can hold: symlinks, FIFOs, duplicate entries,
summaries contradicting the evidence, signatures ssh-keygen refuses; reads are bounded."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME, write_manifest
from harness.evidence.signing import (
    ARMOR_BEGIN,
    ARMOR_END,
    NAMESPACE,
    SignatureError,
    check_signature,
    load_signer,
    sign_bytes,
    sign_manifest,
)
from tests.evidence.conftest import KeyFiles, write_key
from tests.evidence.test_compare import RA, make_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and FIFOs")


def _signed_run(tmp_path: Path, keys: KeyFiles, verdict: str = "failed") -> Path:
    run = make_run(tmp_path, RA, verdict, 2.0)
    summary = {"claims": [{"claim": "QM-09", "verdict": verdict}]}
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_manifest(run, RA, {"target_spec": "lab+sim"})
    sign_manifest(run, load_signer(keys.private))
    return run


def _verify(run: Path, keys: KeyFiles, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["verify", str(run), "--allowed-signers", str(keys.allowed_signers)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.out + out.err


def test_clean_signed_run_verifies(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, text = _verify(_signed_run(tmp_path, key_files), key_files, capsys)
    assert rc == 0, text


def _resign(run: Path, keys: KeyFiles) -> None:
    sign_manifest(run, load_signer(keys.private))


def test_symlink_and_fifo_in_the_folder_refused(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _signed_run(tmp_path, key_files)
    (run / "link.json").symlink_to(run / "summary.json")
    os.mkfifo(run / "evidence" / "fifo.json")
    started = time.monotonic()
    rc, text = _verify(run, key_files, capsys)
    assert rc == 1 and "link.json: symlink" in text and "fifo.json: not a regular file" in text
    assert time.monotonic() - started < 10
    # Even when the manifest lists them (a signer tricked into signing a link), verify refuses.
    (run / "evidence" / "fifo.json").unlink()
    write_manifest(run, RA, {"target_spec": "lab+sim"})
    _resign(run, key_files)
    rc, text = _verify(run, key_files, capsys)
    assert rc == 1 and "link.json: symlink" in text


def test_path_listed_twice_refused(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _signed_run(tmp_path, key_files)
    doc = json.loads((run / MANIFEST_NAME).read_text())
    first = dict(doc["files"][0])
    doc["files"].append({**first, "sha256": "0" * 64})
    (run / MANIFEST_NAME).write_text(json.dumps(doc))
    _resign(run, key_files)
    rc, text = _verify(run, key_files, capsys)
    assert rc == 1 and "more than once" in text


def test_summary_contradicting_the_evidence_refused(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _signed_run(tmp_path, key_files, verdict="failed")
    (run / "summary.json").write_text(
        json.dumps({"claims": [{"claim": "QM-09", "verdict": "passed"}]}), encoding="utf-8"
    )
    write_manifest(run, RA, {"target_spec": "lab+sim"})
    _resign(run, key_files)  # hashes and signature all good: only the content lies
    rc, text = _verify(run, key_files, capsys)
    assert rc == 1 and "summary.json says QM-09 PASSED" in text


def _blob(armored: str) -> bytes:
    lines = armored.strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


def _armor(blob: bytes) -> str:
    b64 = base64.b64encode(blob).decode()
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"{ARMOR_BEGIN}\n{body}\n{ARMOR_END}\n"


def _keygen_accepts(keys: KeyFiles, armored: str, message: bytes, tmp: Path) -> bool:
    keygen = shutil.which("ssh-keygen")
    assert keygen is not None
    keygen_args = [keygen, "-Y", "verify", "-n", NAMESPACE]
    sig = tmp / "x.sig"
    sig.write_text(armored, encoding="ascii")
    done = subprocess.run(
        [*keygen_args, "-f", str(keys.allowed_signers), "-I", keys.principal, "-s", str(sig)],
        input=message,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa256"])
def test_trailing_data_refused_like_ssh_keygen(tmp_path: Path, kind: str) -> None:
    keys = write_key(tmp_path, kind)
    message = b"manifest"
    good = sign_bytes(load_signer(keys.private), message)
    check_signature(message, good)
    bad = _armor(_blob(good) + b"\x00\x00\x00\x04junk")
    with pytest.raises(SignatureError, match="trailing data"):
        check_signature(message, bad)
    if shutil.which("ssh-keygen"):
        assert _keygen_accepts(keys, good, message, tmp_path)
        assert not _keygen_accepts(keys, bad, message, tmp_path)


def test_malformed_ecdsa_numbers_refused(tmp_path: Path) -> None:
    keys = write_key(tmp_path, "ecdsa256")
    message = b"manifest"
    blob = _blob(sign_bytes(load_signer(keys.private), message))
    # Replace the inner (r, s) with a negative r and an over-long s.
    head, _, _ = blob.rpartition(b"ecdsa-sha2-nistp256")
    sig_type = b"ecdsa-sha2-nistp256"
    for inner in (
        struct.pack(">I", 1) + b"\xff" + struct.pack(">I", 1) + b"\x01",
        struct.pack(">I", 2) + b"\x00\x01" + struct.pack(">I", 1) + b"\x01",
        struct.pack(">I", 1) + b"\x01" + struct.pack(">I", 5000) + b"\x01" * 5000,
        struct.pack(">I", 0) + struct.pack(">I", 0),
    ):
        value = struct.pack(">I", len(sig_type)) + sig_type + struct.pack(">I", len(inner)) + inner
        crafted = head[:-8] + struct.pack(">I", len(value)) + value
        with pytest.raises(SignatureError, match=r"negative|minimally|too large|zero"):
            check_signature(message, _armor(crafted))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_signatures_never_accepted_beyond_ssh_keygen(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    tmp = tmp_path_factory.mktemp("sig")
    keys = write_key(tmp, "ed25519")
    message = b"manifest"
    blob = bytearray(_blob(sign_bytes(load_signer(keys.private), message)))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "cut", "append"]))
        where = data.draw(st.integers(0, len(blob) - 1))
        if op == "flip":
            blob[where] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del blob[where:]
            if not blob:
                blob += b"\x00"
        else:
            blob[where:where] = data.draw(st.binary(min_size=1, max_size=8))
    armored = _armor(bytes(blob))
    try:
        check_signature(message, armored)
    except SignatureError:
        return
    # Whatever we accept, ssh-keygen accepts too.
    if shutil.which("ssh-keygen"):
        assert _keygen_accepts(keys, armored, message, tmp)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="POSIX devices")
def test_dev_zero_as_key_or_signature_fails_fast(
    tmp_path: Path, key_files: KeyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _signed_run(tmp_path, key_files)
    started = time.monotonic()
    assert main(["sign", str(run), "--key", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "/dev/zero" in err and "not a regular file" in err and "Traceback" not in err
    assert main(["verify", str(run), "--allowed-signers", "/dev/zero"]) == 2
    capsys.readouterr()
    big = run / SIGNATURE_NAME
    with big.open("wb") as handle:
        handle.truncate(300 << 20)  # sparse: 300 MB of signature costs no disk
    rc, text = _verify(run, key_files, capsys)
    assert rc == 1 and "larger than the limit" in text
    assert time.monotonic() - started < 10
