"""`qmaudit verify`: a run folder checked against its manifest and the manifest's signature."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.evidence.cms import check_cms, read_ca_file
from harness.evidence.manifest import (
    CMS_SIGNATURE_NAME,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    file_sha256,
    run_files,
)
from harness.evidence.signers import AllowedSigner, principals_for, read_allowed_signers
from harness.evidence.signing import SignatureError, check_signature


@dataclass
class Verification:
    """What verify found: file differences, manifest problems, signature status."""

    listed: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    manifest_problem: str | None = None
    signature: str = "not signed"
    signature_ok: bool = False
    signer: list[str] = field(default_factory=list)

    @property
    def files_ok(self) -> bool:
        """Every listed file present and unchanged, none added, the manifest readable."""
        return not (self.changed or self.missing or self.added or self.manifest_problem)


def load_manifest(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest of a run folder, or None and why it cannot be used."""
    path = Path(run_dir) / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{MANIFEST_NAME} is missing"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{MANIFEST_NAME} is unreadable: {exc}"
    files = doc.get("files") if isinstance(doc, dict) else None
    ok = isinstance(files, list) and all(
        isinstance(f, dict)
        and isinstance(f.get("path"), str)
        and isinstance(f.get("bytes"), int)
        and isinstance(f.get("sha256"), str)
        for f in files
    )
    if not ok:
        return None, f"{MANIFEST_NAME} has no valid files list"
    return doc, None


def compare_files(run_dir: Path, doc: dict[str, Any], result: Verification) -> None:
    """Fill result.changed/missing/added: every file's size and SHA-256 against the manifest."""
    listed = {str(f["path"]): f for f in doc["files"]}
    result.listed = len(listed)
    for rel, entry in sorted(listed.items()):
        path = run_dir / rel
        # A path escaping the folder can only come from an edited manifest.
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            result.changed.append(f"{rel}: path outside the run folder")
            continue
        if not path.is_file():
            result.missing.append(rel)
            continue
        size = path.stat().st_size
        digest = file_sha256(path)
        if size != entry["bytes"] or digest != entry["sha256"]:
            result.changed.append(
                f"{rel}: {entry['bytes']} bytes sha256 {entry['sha256'][:16]}... in the manifest, "
                f"now {size} bytes sha256 {digest[:16]}..."
            )
    result.added = [rel.as_posix() for rel in run_files(run_dir) if rel.as_posix() not in listed]


def check_run_signature(
    run_dir: Path, signers: list[AllowedSigner] | None, result: Verification
) -> None:
    """Fill the signature fields: cryptographic check, then the signer against the allow list."""
    sig_path = run_dir / SIGNATURE_NAME
    if not sig_path.is_file():
        cms = (
            " (a CMS signature is there: check it with --ca)"
            if (run_dir / CMS_SIGNATURE_NAME).is_file()
            else ""
        )
        result.signature = f"not signed (no manifest.json.sig){cms}"
        return
    try:
        manifest = (run_dir / MANIFEST_NAME).read_bytes()
        checked = check_signature(manifest, sig_path.read_text(encoding="ascii"))
    except FileNotFoundError:
        result.signature = f"BAD: {MANIFEST_NAME} is missing"
        return
    except (OSError, UnicodeDecodeError) as exc:
        result.signature = f"BAD: the signature is unreadable: {exc}"
        return
    except SignatureError as exc:
        result.signature = f"BAD: {exc}"
        return
    if signers is None:
        result.signature = (
            f"valid, made by key {checked.fingerprint}; signer NOT checked (give --allowed-signers)"
        )
        return
    names = principals_for(signers, checked.public_blob, checked.namespace)
    if not names:
        result.signature = (
            f"BAD: made by key {checked.fingerprint}, which the allowed-signers file does not "
            f"allow for namespace {checked.namespace!r}"
        )
        return
    result.signer = names
    result.signature_ok = True
    result.signature = f"GOOD: signed by {', '.join(names)} (key {checked.fingerprint})"


def verify_run(
    run_dir: Path, allowed_signers: Path | None = None, ca_file: Path | None = None
) -> Verification:
    """Check a run folder: files against the manifest, then the manifest's signature."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "", "run folder not found")
    signers = read_allowed_signers(allowed_signers) if allowed_signers is not None else None
    if ca_file is not None:
        read_ca_file(ca_file)
    result = Verification()
    doc, problem = load_manifest(run_dir)
    if doc is None:
        result.manifest_problem = problem
    else:
        compare_files(run_dir, doc, result)
    if ca_file is not None:
        result.signature_ok, result.signature = check_cms(run_dir, ca_file)
    else:
        check_run_signature(run_dir, signers, result)
    return result


def verify_command(run_dir: Path, allowed_signers: Path | None, ca_file: Path | None = None) -> int:
    """Print the verification of a run folder; 0 only if everything matches."""
    result = verify_run(run_dir, allowed_signers, ca_file)
    anchor = allowed_signers if allowed_signers is not None else ca_file
    print(f"qmaudit verify: {run_dir}")
    if result.manifest_problem:
        print(f"  MANIFEST  {result.manifest_problem}")
    for line in result.changed:
        print(f"  CHANGED   {line}")
    for rel in result.missing:
        print(f"  MISSING   {rel} (listed in the manifest, not in the folder)")
    for rel in result.added:
        print(f"  ADDED     {rel} (in the folder, not in the manifest)")
    matching = result.listed - len(result.changed) - len(result.missing)
    print(f"  files     {result.listed} listed, {matching} match")
    print(f"  signature {result.signature}")
    ok = result.files_ok and (result.signature_ok or anchor is None)
    if ok and result.signature.startswith("BAD"):
        ok = False
    if ok and anchor is None and result.signature.startswith("not signed"):
        print("qmaudit verify: files match the manifest; the manifest is NOT signed")
        return 0
    if ok and not result.signature_ok:
        print("qmaudit verify: files match the manifest; the signer was not checked")
        return 0
    if ok:
        print("qmaudit verify: OK: every file matches the signed manifest")
        return 0
    print("qmaudit verify: FAILED: the run folder does not match its signed manifest")
    return 1
