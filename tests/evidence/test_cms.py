"""CMS signatures from X.509 key+certificate bundles: `openssl cms -verify` and verify --ca."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.cli import main
from harness.evidence.manifest import write_manifest
from tests.evidence.test_manifest import make_run
from tests.evidence.test_verify import RUN_ID

if shutil.which("openssl") is None:
    pytest.skip("openssl not on PATH (Debian: apt-get install -y openssl)", allow_module_level=True)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(folder: Path, name: str = "corp") -> tuple[Path, Path]:
    """A CA file and a signer bundle (key + certificate issued by that CA)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(f"{name} audit CA", ca_key, f"{name} audit CA", ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(f"auditor@{name}.example", key, f"{name} audit CA", ca_key, ca=False)
    ca_file = folder / f"{name}-ca.pem"
    ca_file.write_bytes(_pem(ca))
    bundle = folder / f"{name}-signer.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    bundle.write_bytes(key_pem + _pem(leaf))
    return ca_file, bundle


def signed(tmp_path: Path) -> tuple[Path, Path]:
    ca_file, bundle = make_pki(tmp_path)
    run = tmp_path / "run"
    make_run(run)
    write_manifest(run, RUN_ID, {})
    assert main(["sign", str(run), "--key", str(bundle)]) == 0
    return run, ca_file


def test_openssl_verifies_and_so_does_qmaudit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, ca_file = signed(tmp_path)
    args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER"]
    args += ["-in", str(run / "manifest.json.p7s"), "-content", str(run / "manifest.json")]
    done = subprocess.run(
        [*args, "-CAfile", str(ca_file), "-purpose", "any", "-out", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    capsys.readouterr()
    assert main(["verify", str(run), "--ca", str(ca_file)]) == 0
    out = capsys.readouterr().out
    assert "GOOD: CMS signature by CN=auditor@corp.example" in out


def test_edited_manifest_and_other_ca_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, ca_file = signed(tmp_path)
    other_ca, _bundle = make_pki(tmp_path, "rogue")
    assert main(["verify", str(run), "--ca", str(other_ca)]) == 1
    assert "BAD: openssl cms -verify refused" in capsys.readouterr().out
    manifest = run / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("QM-03", "QM-04"), "utf-8")
    assert main(["verify", str(run), "--ca", str(ca_file)]) == 1
    assert "BAD: openssl cms -verify refused" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"not a certificate\n", "not a PEM certificate file"), (None, "CA file not found")],
)
def test_malformed_ca_file_exit_2(
    tmp_path: Path, content: bytes | None, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run, _ca = signed(tmp_path)
    ca_file = tmp_path / "bad-ca.pem"
    if content is not None:
        ca_file.write_bytes(content)
    assert main(["verify", str(run), "--ca", str(ca_file)]) == 2
    err = capsys.readouterr().err
    assert f"{ca_file}: {needle}" in err and "Traceback" not in err


def test_bundle_without_key_or_with_a_foreign_key_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_file, bundle = make_pki(tmp_path)
    _ca2, bundle2 = make_pki(tmp_path, "other")
    cert_only = tmp_path / "cert-only.pem"
    cert_only.write_bytes(ca_file.read_bytes())
    mixed = tmp_path / "mixed.pem"
    key_part = bundle2.read_bytes().split(b"-----BEGIN CERTIFICATE-----")[0]
    mixed.write_bytes(
        key_part
        + b"-----BEGIN CERTIFICATE-----"
        + bundle.read_bytes().split(b"-----BEGIN CERTIFICATE-----")[1]
    )
    run = tmp_path / "run"
    make_run(run)
    write_manifest(run, RUN_ID, {})
    assert main(["sign", str(run), "--key", str(cert_only)]) == 2
    assert "no private key" in capsys.readouterr().err
    assert main(["sign", str(run), "--key", str(mixed)]) == 2
    assert "no certificate in the bundle matches the private key" in capsys.readouterr().err
    assert not (run / "manifest.json.p7s").exists()


@pytest.mark.parametrize("tamper", ["trailing", "symlink", "huge"])
def test_tampered_cms_file_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: str
) -> None:
    run, ca_file = signed(tmp_path)
    sig = run / "manifest.json.p7s"
    if tamper == "trailing":
        sig.write_bytes(sig.read_bytes() + b"\x00trailing")
        needle = "bytes of trailing data"
    elif tamper == "symlink":
        real = tmp_path / "elsewhere.p7s"
        real.write_bytes(sig.read_bytes())
        sig.unlink()
        sig.symlink_to(real)
        needle = "symlink"
    else:
        with sig.open("r+b") as handle:
            handle.truncate(300 << 20)  # sparse
        needle = "larger than the limit"
    assert main(["verify", str(run), "--ca", str(ca_file)]) == 1
    out = capsys.readouterr()
    assert needle in out.out and "Traceback" not in out.err
