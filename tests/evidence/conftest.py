"""Keys and allowed-signers files for the signing and verification tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harness.evidence.signing import NAMESPACE


@dataclass
class KeyFiles:
    """An OpenSSH private key file, its public line and an allowed-signers file naming it."""

    private: Path
    public_line: str
    allowed_signers: Path
    principal: str


def write_key(
    folder: Path, kind: str = "ed25519", passphrase: bytes | None = None, name: str = "op"
) -> KeyFiles:
    """Generate a key with `cryptography` and write it as ssh-keygen would."""
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind.startswith("ecdsa"):
        curves = {
            "ecdsa256": ec.SECP256R1(),
            "ecdsa384": ec.SECP384R1(),
            "ecdsa521": ec.SECP521R1(),
        }
        key = ec.generate_private_key(curves[kind])
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private = folder / f"{name}_{kind}"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    )
    private.chmod(0o600)
    public_line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    principal = f"{name}@example.org"
    allowed = folder / f"{name}_{kind}.allowed"
    allowed.write_text(f'{principal} namespaces="{NAMESPACE}" {public_line}\n', encoding="utf-8")
    return KeyFiles(private, public_line, allowed, principal)


@pytest.fixture
def key_files(tmp_path: Path) -> KeyFiles:
    """An unencrypted ed25519 signing key and its allowed-signers file."""
    return write_key(tmp_path)


@pytest.fixture
def ssh_keygen() -> str:
    """ssh-keygen, the standard tool that checks the signatures (CI installs openssh-client)."""
    found = shutil.which("ssh-keygen")
    if not found:
        pytest.skip("ssh-keygen not on PATH (Debian: apt-get install -y openssh-client)")
    return found
