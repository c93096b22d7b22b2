"""`qmaudit verify`: a run folder checked against its manifest and the manifest's signature."""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.evidence.cms import check_cms, read_ca_file
from harness.evidence.manifest import (
    CMS_SIGNATURE_NAME,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    file_sha256,
    read_records,
    run_files,
)
from harness.evidence.records import EvidenceError
from harness.evidence.signers import AllowedSigner, principals_for, read_allowed_signers
from harness.evidence.signing import SignatureError, check_signature
from harness.evidence.summary import SUMMARY_JSON
from harness.evidence.verdicts import claim_verdicts
from harness.evidence.waivers import waived_claim_verdicts


@dataclass
class Verification:
    """What verify found: file differences, manifest problems, signature status."""

    listed: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    manifest_problem: str | None = None
    inconsistent: list[str] = field(default_factory=list)
    signature: str = "not signed"
    signature_ok: bool = False
    signer: list[str] = field(default_factory=list)

    @property
    def files_ok(self) -> bool:
        """Every listed file present and unchanged, none added, the manifest readable."""
        problems = self.changed or self.missing or self.added or self.inconsistent
        return not (problems or self.manifest_problem)


MAX_MANIFEST_BYTES = 64 << 20
MAX_SIGNATURE_BYTES = 64 << 10  # an armored SSHSIG is about 300 bytes (RSA 4096: ~1 KB)
MAX_SUMMARY_BYTES = 64 << 20


def _read_json(path: Path, limit: int, what: str) -> tuple[Any, str | None]:
    """A JSON file of the run, bounded and regular files only; (doc, None) or (None, why)."""
    if path.is_symlink():
        return None, f"{path.name} is a symlink"
    try:
        data = read_bounded(path, limit, what=what)
        return json.loads(data.decode("utf-8")), None
    except InputError as exc:
        return None, f"{path.name}: {exc.reason}"
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{path.name} is unreadable: {type(exc).__name__}"


def load_manifest(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest of a run folder, or None and why it cannot be used."""
    path = Path(run_dir) / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        return None, f"{MANIFEST_NAME} is missing"
    doc, problem = _read_json(path, MAX_MANIFEST_BYTES, "manifest")
    if problem is not None:
        return None, problem
    files = doc.get("files") if isinstance(doc, dict) else None
    ok = isinstance(files, list) and all(
        isinstance(f, dict)
        and isinstance(f.get("path"), str)
        and isinstance(f.get("bytes"), int)
        and isinstance(f.get("sha256"), str)
        for f in files
    )
    if not ok or not isinstance(files, list) or not isinstance(doc, dict):
        return None, f"{MANIFEST_NAME} has no valid files list"
    seen: set[str] = set()
    for entry in files:
        key = unicodedata.normalize("NFC", entry["path"]).casefold()
        if key in seen:
            return None, f"{MANIFEST_NAME} lists {entry['path']!r} more than once"
        seen.add(key)
    return doc, None


def special_files(run_dir: Path) -> list[str]:
    """Symlinks and non-regular files (FIFOs, sockets, devices) anywhere in the run folder:
    a run writes none, and reading one could hang or leave the folder."""
    out = []
    for dirpath, dirs, files in os.walk(run_dir, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(dirpath) / name
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                out.append(f"{path.relative_to(run_dir).as_posix()}: symlink")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                out.append(f"{path.relative_to(run_dir).as_posix()}: not a regular file")
    return sorted(out)


def compare_files(run_dir: Path, doc: dict[str, Any], result: Verification) -> None:
    """Fill result.changed/missing/added: every file's size and SHA-256 against the manifest."""
    listed = {str(f["path"]): f for f in doc["files"]}
    result.listed = len(listed)
    refused = special_files(run_dir)
    result.changed += refused
    refused_paths = {line.rsplit(": ", 1)[0] for line in refused}
    for rel, entry in sorted(listed.items()):
        path = run_dir / rel
        # A path escaping the folder can only come from an edited manifest.
        parts = Path(rel).parts
        if ".." in parts or Path(rel).is_absolute() or "\x00" in rel or not parts:
            result.changed.append(f"{rel!r}: path outside the run folder")
            continue
        if rel in refused_paths or any(
            "/".join(parts[:i]) in refused_paths for i in range(1, len(parts))
        ):
            continue  # reported above; never read through a link or from a FIFO
        try:
            if not path.is_file():
                result.missing.append(rel)
                continue
            size = path.stat().st_size
            digest = file_sha256(path)
        except OSError as exc:
            result.changed.append(f"{rel}: unreadable ({exc.strerror})")
            continue
        if size != entry["bytes"] or digest != entry["sha256"]:
            result.changed.append(
                f"{rel}: {entry['bytes']} bytes sha256 {entry['sha256'][:16]}... in the manifest, "
                f"now {size} bytes sha256 {digest[:16]}..."
            )
    result.added = [
        rel.as_posix()
        for rel in run_files(run_dir)
        if rel.as_posix() not in listed and rel.as_posix() not in refused_paths
    ]


def check_summaries(run_dir: Path, doc: dict[str, Any], result: Verification) -> None:
    """summary.json and the manifest's summary against the evidence records they summarise."""
    try:
        records = read_records(run_dir)
    except EvidenceError as exc:
        result.inconsistent.append(f"evidence: {exc.location}: {exc.reason}")
        return
    try:
        recorded = claim_verdicts(records)
        waived = waived_claim_verdicts(records)
    except (AttributeError, TypeError, KeyError, ValueError):
        result.inconsistent.append("evidence records of an unexpected shape")
        return
    listed = doc.get("summary")
    if isinstance(listed, dict):
        if listed.get("claims") != recorded:
            result.inconsistent.append("manifest.json summary.claims differ from the evidence")
        if listed.get("evidence_records") != len(records):
            result.inconsistent.append(
                f"manifest.json counts {listed.get('evidence_records')!r} evidence records, "
                f"the folder holds {len(records)}"
            )
    path = run_dir / SUMMARY_JSON
    if not path.exists() and not path.is_symlink():
        return
    summary, problem = _read_json(path, MAX_SUMMARY_BYTES, "summary")
    if problem is not None or not isinstance(summary, dict):
        result.inconsistent.append(problem or "summary.json is not an object")
        return
    rows = summary.get("claims")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        result.inconsistent.append("summary.json has no claims list")
        return
    said = {str(r.get("claim")): r.get("verdict") for r in rows}
    for claim in sorted(set(said) | set(waived)):
        want = waived.get(claim, "not run")
        if said.get(claim, "not run") != want:
            result.inconsistent.append(
                f"summary.json says {claim} {str(said.get(claim, 'not run')).upper()}, "
                f"the evidence records say {want.upper()}"
            )


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
        manifest = read_bounded(run_dir / MANIFEST_NAME, MAX_MANIFEST_BYTES, what="manifest")
        armored = read_bounded(sig_path, MAX_SIGNATURE_BYTES, what="signature").decode("ascii")
        checked = check_signature(manifest, armored)
    except InputError as exc:
        result.signature = f"BAD: {exc.reason}"
        return
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
        check_summaries(run_dir, doc, result)
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
    for line in result.inconsistent:
        print(f"  SUMMARY   {line}")
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
