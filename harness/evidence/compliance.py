"""A run's compliance steps: inputs checked before anything moves; waivers, summary, signing."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.evidence.cms import CmsSigner, is_cms_bundle, load_cms_signer, sign_manifest_cms
from harness.evidence.manifest import read_records
from harness.evidence.signing import NAMESPACE, Signer, load_signer, sign_manifest
from harness.evidence.summary import Control, build_summary, load_controls, write_summary
from harness.evidence.waivers import (
    WaiverSet,
    apply_waivers,
    claim_waivers,
    load_waivers,
    mark_allure_results,
    waived_claim_verdicts,
)
from harness.redact import redact


@dataclass
class Compliance:
    """The operator's signing key, waivers and control map for one run (each optional)."""

    signer: Signer | CmsSigner | None = None
    waivers: WaiverSet | None = None
    controls: list[Control] | None = None

    @classmethod
    def prepare(
        cls,
        sign_key: str | None = None,
        waivers_file: str | None = None,
        controls_file: str | None = None,
    ) -> Compliance:
        """Load and check every compliance input: InputError (exit 2) before anything moves."""
        return cls(
            signer=load_any_signer(sign_key) if sign_key else None,
            waivers=load_waivers(waivers_file) if waivers_file else None,
            controls=load_controls(controls_file) if controls_file else None,
        )

    def claim_verdicts(self, run_dir: Path) -> dict[str, str]:
        """Apply the waivers (evidence, Allure results, copy of the file); per claim verdicts."""
        if self.waivers is not None:
            apply_waivers(run_dir, self.waivers)
            results = Path(run_dir) / "allure-results"
            if results.is_dir():
                mark_allure_results(results, read_records(run_dir))
        return waived_claim_verdicts(read_records(run_dir))

    def print_waivers(self, run_dir: Path, out: object = sys.stdout) -> None:
        """One line per waived claim under the claim table, with the waiver's text."""
        for claim, texts in claim_waivers(read_records(run_dir)).items():
            for text in texts:
                print(redact(f"{claim}  {text}"), file=out)  # type: ignore[call-overload]

    def signature_status(self) -> str:
        """What the summary says about the signature (it is written before the signature)."""
        if self.signer is None:
            return "not signed at run time (sign later with `qmaudit sign RUN_DIR --key KEY`)"
        if isinstance(self.signer, CmsSigner):
            return (
                "signed at the end of the run: manifest.json.p7s, CMS (PKCS#7) signature, "
                f"certificate {self.signer.subject}"
            )
        return (
            f"signed at the end of the run: manifest.json.sig, OpenSSH signature, namespace "
            f"{NAMESPACE!r}, key {self.signer.fingerprint}"
        )

    def write_summary(self, run_dir: Path, run_id: str, target_spec: str, elapsed_s: float) -> Path:
        """summary.json and summary.html; returns the HTML path."""
        finished = datetime.now(UTC)
        started = finished - timedelta(seconds=elapsed_s)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        doc = build_summary(
            run_dir,
            run_id=run_id,
            target_spec=target_spec,
            started_utc=started.strftime(fmt),
            finished_utc=finished.strftime(fmt),
            duration_s=elapsed_s,
            signature=self.signature_status(),
            controls=self.controls,
        )
        return write_summary(run_dir, doc)[1]

    def sign(self, run_dir: Path) -> Path | None:
        """Sign the final manifest (atomically); None when no key was given."""
        return sign_with(run_dir, self.signer) if self.signer is not None else None


MAX_KEY_FILE = 1 << 20  # a key plus its certificate chain


def load_any_signer(path: str) -> Signer | CmsSigner:
    """A PEM bundle with a certificate signs with CMS; an OpenSSH key with SSHSIG."""
    # Bounded: /dev/zero or a huge file given as a key is refused at once, naming the file.
    data = read_bounded(path, MAX_KEY_FILE, what="signing key")
    if is_cms_bundle(data):
        return load_cms_signer(data, str(path))
    return load_signer(path)


def sign_with(run_dir: Path, signer: Signer | CmsSigner) -> Path:
    """Sign the final manifest with either kind of signer (atomically)."""
    if isinstance(signer, CmsSigner):
        return sign_manifest_cms(run_dir, signer)
    return sign_manifest(run_dir, signer)


def failures_all_waived(run_dir: Path) -> bool:
    """True when the run has waived failures and nothing else failed or broke.

    Every phase of a scenario (setup, steps, the teardown that puts the VMs back) settles its
    evidence record, so the records alone say whether anything is left unwaived.
    """
    verdicts = waived_claim_verdicts(read_records(run_dir)).values()
    return "waived" in verdicts and not any(v in ("failed", "broken") for v in verdicts)


def sign_command(run_dir: Path, key: str) -> int:
    """`qmaudit sign`: sign a finished run whose files still match its manifest."""
    from harness.evidence.verify import Verification, compare_files, load_manifest

    signer = load_any_signer(key)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "", "run folder not found")
    doc, problem = load_manifest(run_dir)
    if doc is None:
        print(f"qmaudit sign: {run_dir}: {problem}: not signed", file=sys.stderr)
        return 1
    result = Verification()
    compare_files(run_dir, doc, result)
    if not result.files_ok:
        # Signing a folder that no longer matches its manifest would vouch for altered evidence.
        print(
            f"qmaudit sign: {run_dir}: files differ from the manifest "
            f"({len(result.changed)} changed, {len(result.missing)} missing, "
            f"{len(result.added)} added; see `qmaudit verify`): not signed",
            file=sys.stderr,
        )
        return 1
    path = sign_with(run_dir, signer)
    who = signer.subject if isinstance(signer, CmsSigner) else f"key {signer.fingerprint}"
    print(f"qmaudit sign: {path} ({who})")
    return 0
