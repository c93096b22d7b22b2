"""Finishing a run: waivers, reporters, manifest, signature; the same files however it ran.

`qmaudit run` and plain `pytest features --qm-target X` both end in `finalise_run`. A reporter
is one object with one method, `report(run) -> lines`: a new output format is one new module
with one reporter class, added to the list the caller passes. Every step runs even when an
earlier one failed; each failure is kept in `Finished.problems` (redacted) and the manifest and
signature are still written over whatever the run holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.errors import HarnessError
from harness.evidence.compliance import Compliance
from harness.redact import redact


@dataclass
class FinishingRun:
    """What the finishing steps know about a run that has ended."""

    run_dir: Path
    run_id: str
    target_spec: str
    pytest_exit_code: int
    elapsed_s: float
    compliance: Compliance = field(default_factory=Compliance)
    # Set by HistoryReporter, read by AllureHtmlReporter: the config carrying the history.
    allure_config: Path | None = None

    def extra(self) -> dict[str, object]:
        """What the manifest records about the run besides its files."""
        return {"target_spec": self.target_spec, "pytest_exit_code": int(self.pytest_exit_code)}


class Reporter(Protocol):
    """An output of a finished run: writes its files, returns lines for the operator."""

    name: str

    def report(self, run: FinishingRun) -> list[str]: ...


@dataclass
class HistoryReporter:
    """Index the run in the history folder and plot the target's trend (before the HTML)."""

    folder: Path
    keep: int = 30
    name: str = "history"

    def report(self, run: FinishingRun) -> list[str]:
        from harness.evidence.history import record_run
        from harness.evidence.manifest import write_manifest

        # record_run reads the manifest: a first one now, the final one after every output.
        write_manifest(run.run_dir, run.run_id, run.extra())
        config, notes = record_run(run.run_dir, self.folder, self.keep)
        run.allure_config = config
        lines = [f"history: {note}" for note in notes]
        return [*lines, f"history  {self.folder} (trend plots in {run.run_dir / 'trend'})"]


@dataclass
class AllureHtmlReporter:
    """The Allure HTML report (offline, one file) from the run's Allure results."""

    name: str = "report"

    def report(self, run: FinishingRun) -> list[str]:
        from harness.evidence.allure import generate_html

        results, out = run.run_dir / "allure-results", run.run_dir / "report"
        _ok, message = generate_html(results, out, config=run.allure_config)
        return [message]


@dataclass
class SummaryReporter:
    """summary.json and summary.html: the claim table an auditor files."""

    name: str = "summary"

    def report(self, run: FinishingRun) -> list[str]:
        path = run.compliance.write_summary(run.run_dir, run.run_id, run.target_spec, run.elapsed_s)
        return [f"summary   {path}"]


def default_reporters(
    report: bool = True, history: Path | None = None, history_keep: int = 30
) -> list[Reporter]:
    """The reporters of a run: history (when asked), the HTML report (unless off), the summary."""
    out: list[Reporter] = []
    if history is not None:
        out.append(HistoryReporter(history, history_keep))
    if report:
        out.append(AllureHtmlReporter())
    out.append(SummaryReporter())
    return out


@dataclass
class Finished:
    """What finishing did: per-claim verdicts (waivers applied), lines to print, problems."""

    verdicts: dict[str, str]
    lines: list[str]
    problems: list[str]
    manifest: Path | None
    signature: Path | None
    # The manifest (and the signature, when a key was given) were written: the run is sealed.
    # A reporter that failed leaves the verdicts standing; an unsealed run does not.
    sealed: bool = True


def _why(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
    return redact(text)


def finalise_run(run: FinishingRun, reporters: Sequence[Reporter]) -> Finished:
    """Waivers, then every reporter, then the manifest over all files, then the signature."""
    from harness.evidence.manifest import read_records, write_manifest
    from harness.evidence.verdicts import claim_verdicts

    problems: list[str] = []
    lines: list[str] = []
    try:
        # Waivers first: they change the evidence and the Allure results the others read.
        verdicts = run.compliance.claim_verdicts(run.run_dir)
    except Exception as exc:
        problems.append(f"waivers: not applied: {_why(exc)}")
        try:
            verdicts = claim_verdicts(read_records(run.run_dir))
        except Exception as again:
            problems.append(f"verdicts: not read: {_why(again)}")
            verdicts = {}
    for reporter in reporters:
        try:
            lines += reporter.report(run)
        except Exception as exc:
            problems.append(f"{reporter.name}: not written: {_why(exc)}")
    manifest: Path | None = None
    try:
        manifest = write_manifest(run.run_dir, run.run_id, run.extra())
    except Exception as exc:
        problems.append(f"manifest: not written: {_why(exc)}")
    signature: Path | None = None
    try:
        signature = run.compliance.sign(run.run_dir)
    except Exception as exc:
        problems.append(f"signature: not written: {_why(exc)}")
    wanted_signature = run.compliance.signer is not None
    sealed = manifest is not None and (signature is not None or not wanted_signature)
    return Finished(verdicts, lines, problems, manifest, signature, sealed)
