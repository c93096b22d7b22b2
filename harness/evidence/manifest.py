"""The run manifest: every file of a run with its SHA-256, and the verdict per claim."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness import __version__
from harness.atomic import TMP_PREFIX, atomic_write
from harness.boundedfile import read_bounded
from harness.domain.identity import TargetIdentity
from harness.drivers.base import utc_now_iso
from harness.errors import InputError
from harness.evidence.records import EvidenceError, dump_json, redact_document, validate
from harness.evidence.sweep import sweep_secrets
from harness.evidence.verdicts import VERDICTS, claim_verdicts

MANIFEST_NAME = "manifest.json"
# The signatures are made over the final manifest, so they cannot be listed in it:
# OpenSSH (ssh-keygen -Y verify) and CMS (openssl cms -verify).
SIGNATURE_NAME = "manifest.json.sig"
CMS_SIGNATURE_NAME = "manifest.json.p7s"
# Every other file is listed, the HTML report included: it is what an auditor keeps and opens.
MANIFEST_EXCLUDED = (MANIFEST_NAME, SIGNATURE_NAME, CMS_SIGNATURE_NAME)


MAX_RECORD_BYTES = 64 << 20  # one evidence record (the largest real ones are a few MB)


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every evidence record of a run, in file order (EvidenceError for an unreadable one:
    not a regular file, over MAX_RECORD_BYTES, not JSON, not an object)."""
    records = []
    for path in sorted((Path(run_dir) / "evidence").glob("*.json")):
        try:
            data = read_bounded(path, MAX_RECORD_BYTES, what="evidence record")
            doc = json.loads(data.decode("utf-8"))
        except InputError as exc:
            raise EvidenceError("manifest", str(path), exc.reason) from None
        except (ValueError, RecursionError) as exc:
            reason = f"evidence record unreadable: {type(exc).__name__}: {str(exc)[:200]}"
            raise EvidenceError("manifest", str(path), reason) from None
        if not isinstance(doc, dict):
            raise EvidenceError("manifest", str(path), "evidence record is not a JSON object")
        records.append(doc)
    return records


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_files(run_dir: Path) -> list[Path]:
    """The files of a run the manifest lists (relative paths, sorted; see MANIFEST_EXCLUDED)."""
    files = []
    for path in sorted(Path(run_dir).rglob("*")):
        rel = path.relative_to(run_dir)
        if not path.is_file() or rel.as_posix() in MANIFEST_EXCLUDED:
            continue
        if path.name.startswith(TMP_PREFIX):
            continue
        files.append(rel)
    return files


def _file_entries(run_dir: Path) -> list[dict[str, Any]]:
    entries = []
    for rel in run_files(run_dir):
        path = run_dir / rel
        entries.append(
            {"path": rel.as_posix(), "bytes": path.stat().st_size, "sha256": file_sha256(path)}
        )
    return entries


def write_manifest(
    run_dir: Path, run_id: str, extra: dict[str, Any], target: TargetIdentity | None = None
) -> Path:
    """Write <run_dir>/manifest.json: every file of the run (see MANIFEST_EXCLUDED) hashed."""
    run_dir = Path(run_dir)
    # Before anything is hashed: no registered secret may remain in any file of the run.
    sweep_secrets(run_dir)
    records = read_records(run_dir)
    verdicts = {v: 0 for v in VERDICTS}
    for rec in records:
        if rec.get("verdict") in verdicts:
            verdicts[rec["verdict"]] += 1
    if target is not None:
        target_doc: dict[str, Any] | None = target.to_dict()
    else:
        target_doc = records[0]["target"] if records else None
    doc = {
        "manifest_version": 1,
        "run_id": run_id,
        "created_utc": utc_now_iso(),
        "harness_version": __version__,
        "target": redact_document(target_doc),
        "summary": {
            "evidence_records": len(records),
            "verdicts": verdicts,
            "claims": claim_verdicts(records),
        },
        "extra": redact_document(extra),
        "excluded": list(MANIFEST_EXCLUDED),
        "files": _file_entries(run_dir),
    }
    # Only target and extra are redacted: file paths must stay exact for the hashes to be checkable.
    validate("manifest", doc, f"manifest of run {run_id}")
    path = run_dir / MANIFEST_NAME
    atomic_write(path, dump_json(doc, "manifest"))
    return path
