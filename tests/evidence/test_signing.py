"""Manifest signatures: OpenSSH SSHSIG made with `cryptography`, checked by ssh-keygen and by us."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa

from harness.cli import main
from harness.errors import InputError
from harness.evidence.signers import parse_allowed_signers, principals_for
from harness.evidence.signing import (
    NAMESPACE,
    PASSPHRASE_ENV,
    SignatureError,
    check_signature,
    load_signer,
    sign_bytes,
)
from tests.evidence.conftest import KeyFiles, write_key

MESSAGE = b'{"files": []}\n'
KINDS = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"]


def keygen_verify(ssh_keygen: str, keys: KeyFiles, sig: Path, message: bytes) -> str:
    args = [ssh_keygen, "-Y", "verify", "-f", str(keys.allowed_signers), "-I", keys.principal]
    done = subprocess.run(
        [*args, "-n", NAMESPACE, "-s", str(sig)],
        input=message,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return f"{done.returncode} {done.stdout.decode()} {done.stderr.decode()}"


@pytest.mark.parametrize("kind", KINDS)
def test_ssh_keygen_accepts_our_signature(tmp_path: Path, kind: str, ssh_keygen: str) -> None:
    keys = write_key(tmp_path, kind)
    sig = tmp_path / "m.sig"
    sig.write_text(sign_bytes(load_signer(keys.private), MESSAGE), encoding="ascii")
    out = keygen_verify(ssh_keygen, keys, sig, MESSAGE)
    assert out.startswith("0 ") and f'Good "{NAMESPACE}" signature for {keys.principal}' in out
    # The same signature over other bytes is refused by the standard tool too.
    assert not keygen_verify(ssh_keygen, keys, sig, MESSAGE + b" ").startswith("0 ")


@pytest.mark.parametrize("kind", KINDS)
def test_we_accept_ssh_keygen_signatures(tmp_path: Path, kind: str, ssh_keygen: str) -> None:
    keys = write_key(tmp_path, kind)
    data = tmp_path / "m.json"
    data.write_bytes(MESSAGE)
    subprocess.run(
        [ssh_keygen, "-q", "-Y", "sign", "-f", str(keys.private), "-n", NAMESPACE, str(data)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    armored = (tmp_path / "m.json.sig").read_text(encoding="ascii")
    checked = check_signature(MESSAGE, armored)
    assert checked.fingerprint == load_signer(keys.private).fingerprint
    with pytest.raises(SignatureError, match="does not match"):
        check_signature(MESSAGE.replace(b"[]", b"[1]"), armored)


def test_wrong_namespace_and_garbage_refused(key_files: KeyFiles) -> None:
    armored = sign_bytes(load_signer(key_files.private), MESSAGE, namespace="file")
    with pytest.raises(SignatureError, match="namespace is 'file'"):
        check_signature(MESSAGE, armored)
    with pytest.raises(SignatureError, match="armor"):
        check_signature(MESSAGE, "not a signature")
    body = armored.splitlines()
    truncated = "\n".join([body[0], body[1][:20], body[-1]])
    with pytest.raises(SignatureError):
        check_signature(MESSAGE, truncated)


def test_encrypted_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = write_key(tmp_path, passphrase=b"correct horse")
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    signer = load_signer(keys.private)
    check_signature(MESSAGE, sign_bytes(signer, MESSAGE))
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong horse")
    with pytest.raises(InputError, match="wrong passphrase") as err:
        load_signer(keys.private)
    assert str(keys.private) in err.value.message and "wrong horse" not in err.value.message
    monkeypatch.delenv(PASSPHRASE_ENV)
    # No terminal under pytest: the operator is told how to give the passphrase.
    with pytest.raises(InputError, match=PASSPHRASE_ENV):
        load_signer(keys.private)


def _dsa_key(path: Path) -> Path:
    key = dsa.generate_private_key(key_size=1024)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "absent", "signing key not found"),
        (lambda d: d, "cannot read the signing key"),
        (lambda d: _write(d / "k", "just text\n"), "not an OpenSSH private key"),
        (
            lambda d: _write(
                d / "k",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            ),
            "OpenSSH private key",
        ),
        (lambda d: _dsa_key(d / "k"), "unsupported key"),
    ],
)
@pytest.mark.filterwarnings("ignore:SSH DSA")
def test_bad_key_exit_2(
    tmp_path: Path,
    make: object,
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    key = make(tmp_path)  # type: ignore[operator]
    assert main(["run", "--target", "lab+sim", "--sign", str(key)]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(key) in err and "Traceback" not in err
    # Nothing moved, nothing written: the key is checked before the run starts.
    assert not (tmp_path / "reports").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_allowed_signers_parsing(key_files: KeyFiles) -> None:
    blob = load_signer(key_files.private).public_blob
    text = (
        "# comment\n\n"
        f"alice@example.org,bob@example.org {key_files.public_line} laptop key\n"
        f'carol@example.org namespaces="git" {key_files.public_line}\n'
    )
    signers = parse_allowed_signers(text, "signers")
    assert principals_for(signers, blob, NAMESPACE) == ["alice@example.org", "bob@example.org"]
    assert principals_for(signers, blob, "git") == [
        "alice@example.org",
        "bob@example.org",
        "carol@example.org",
    ]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("alice@example.org", "expected: principals"),
        ("alice@example.org ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unknown key type 'ssh-dss'"),
        ("alice@example.org ssh-ed25519 %%%notbase64", "invalid ssh-ed25519 public key"),
        ("alice@example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", "invalid ssh-ed25519"),
        ('alice@example.org colour="red" ssh-ed25519 AAAA', "unknown option 'colour'"),
        ('alice@example.org valid-before="20300101" ssh-ed25519 AAAA', "not supported"),
        ('alice@example.org namespaces="qmaudit ssh-ed25519 AAAA', "malformed line"),
    ],
)
def test_malformed_allowed_signers_exit_2(
    tmp_path: Path, line: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    signers = tmp_path / "allowed"
    signers.write_text(f"# team keys\n{line}\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    assert main(["verify", str(tmp_path / "run"), "--allowed-signers", str(signers)]) == 2
    err = capsys.readouterr().err
    assert f"{signers}: line 2: " in err and needle in err and "Traceback" not in err


def test_missing_or_empty_allowed_signers_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run").mkdir()
    assert main(["verify", str(tmp_path / "run"), "--allowed-signers", "/no/such/file"]) == 2
    assert "/no/such/file: allowed-signers file not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("# nobody\n", encoding="utf-8")
    assert main(["verify", str(tmp_path / "run"), "--allowed-signers", str(empty)]) == 2
    assert "no allowed signer" in capsys.readouterr().err
