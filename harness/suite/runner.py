"""`qmaudit run`: the audit suite in-process under pytest, then report, manifest, verdicts."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.domain.claims import CLAIM_TITLES, CLAIMS
from harness.errors import HarnessError, InputError, plain_message
from harness.exits import Exit, last_line
from harness.run.budget import Budget, enforce_budget
from harness.run.interrupt import RunStop, journal_verdict
from harness.run.passive import NOT_JUDGED
from harness.targets.registry import TargetSpec, parse_spec

if TYPE_CHECKING:
    from harness.evidence.compliance import Compliance


def suite_args(
    target: str | TargetSpec,
    lab_speed: float,
    run_dir: Path,
    run_id: str,
    keyword: str | None,
    markers: str | None,
    *,
    jobs: int = 0,
    passive: bool = False,
    since: str | None = None,
) -> list[str]:
    """pytest arguments running the audit scenarios in-process, quietly; xdist with jobs > 1."""
    args = [
        str(features_dir()),
        f"--qm-target={target}",
        f"--qm-lab-speed={lab_speed}",
        f"--qm-run-dir={run_dir}",
        f"--qm-run-id={run_id}",
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        *(["-n", str(jobs)] if jobs > 1 else ["-p", "no:xdist"]),
    ]
    args += ["-k", keyword] if keyword else []
    args += ["-m", markers] if markers else []
    args += ["--qm-passive"] if passive else []
    args += [f"--qm-since={since}"] if since else []
    return args


def features_dir() -> Path:
    """The audit's feature files: the installed `features` package (a checkout's folder)."""
    import features

    path = Path(features.__file__).resolve().parent
    if not (path / "test_quick_migration.py").is_file():
        raise HarnessError(f"the audit's feature files were not found at {path}")
    return path


@dataclass
class Progress:
    """A pytest plugin printing one line per scenario as it finishes."""

    out: Any = field(default_factory=lambda: sys.stdout)
    total: int = 0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    errors: list[str] = field(default_factory=list)

    titles: dict[str, str] = field(default_factory=dict)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from harness.suite.scenario import scenario_of

        self.total = len(session.items)
        for item in session.items:
            found = scenario_of(item)
            self.titles[item.nodeid] = found.title if found else item.nodeid.split("::")[-1]
        noun = "scenario" if self.total == 1 else "scenarios"
        print(f"qmaudit: {self.total} {noun} selected", file=self.out, flush=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Under xdist the controller collects nothing itself; each worker reports its items.
        if not self.total:
            self.total = len(ids)
            print(f"qmaudit: {self.total} scenarios selected", file=self.out, flush=True)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext.strip().splitlines()[-1]}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        final = report.when == "call" or (report.when == "setup" and not report.passed)
        if report.when == "teardown" and report.failed:
            print(f"      teardown problem: {_short(report)}", file=self.out, flush=True)
        if not final:
            return
        self.done += 1
        # The plugin classified the phase with the one rule (harness/evidence/verdicts.py).
        outcome = str(getattr(report, "qm_verdict", "unknown")).upper()
        elapsed = time.monotonic() - self.started
        name = self.titles.get(report.nodeid, report.nodeid.split("::")[-1])
        why = "" if report.passed else _short(report)
        if report.skipped and "NOT JUDGED" in why:
            outcome = "NOT JUDGED"
        print(
            f"[{self.done:>3}/{self.total}] {elapsed:6.1f}s {outcome:<7} {name}",
            file=self.out,
            flush=True,
        )
        if why and NOT_JUDGED not in why:  # the passive mode's one reason is said once, at the end
            print(f"      {why}", file=self.out, flush=True)


def _short(report: Any) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
    return (lines[0][1:].strip() if lines else report.longreprtext.strip().splitlines()[-1])[:400]


def claim_verdicts(run_dir: Path) -> dict[str, str]:
    """Per claim, the worst verdict among its scenarios' evidence records."""
    from harness.evidence.manifest import read_records
    from harness.evidence.verdicts import claim_verdicts as verdicts_of

    return verdicts_of(read_records(run_dir))


def run_audit(
    target: str | TargetSpec,
    keyword: str | None = None,
    markers: str | None = None,
    report: bool = True,
    lab_speed: float = 20.0,
    reports_root: Path = Path("reports"),
    run_id: str | None = None,
    compliance: Compliance | None = None,
    *,
    jobs: int = 0,
    history: Path | None = None,
    history_keep: int = 30,
    budget: Budget | None = None,
    passive: bool = False,
    since: str | None = None,
) -> int:
    """Run the audit; print progress, the claim table and where the report is. Exit code."""
    from harness.evidence.allure import generate_html
    from harness.evidence.compliance import Compliance
    from harness.evidence.manifest import write_manifest
    from harness.evidence.records import new_run_id
    from harness.suite.plugin import ChosenTarget

    spec = parse_spec(target)
    if lab_speed <= 0:
        raise InputError("--lab-speed", repr(lab_speed), "must be a positive number")
    refused_by_replay: list[str] = []
    if spec.text.strip().startswith("replay:") and not passive:  # passive: NOT JUDGED instead
        from harness.suite.selection import replay_refusals

        refused_by_replay, runnable = replay_refusals(markers, features_dir())
        if refused_by_replay:
            print(
                f"qmaudit: replay: refused {len(refused_by_replay)} selected scenario(s): they "
                "need actions (moves, drains, crashes) a capture does not hold (read probes only):",
                file=sys.stderr,
            )
            for title in refused_by_replay:
                print(f"  {title}", file=sys.stderr)
        if refused_by_replay and not runnable:
            detail = "nothing selected can run on a replay (`--passive` can); nothing was done"
            print(last_line(Exit.BAD_INPUT, detail), file=sys.stderr)
            return int(Exit.BAD_INPUT)
        if refused_by_replay:
            markers = f"({markers}) and not disruptive" if markers else "not disruptive"
    budget = budget or Budget()
    if not passive:  # a passive run moves nothing: no plan to price
        refused = enforce_budget(spec, budget, keyword, markers, lab_speed)
        if refused is not None:
            print(last_line(Exit.BAD_INPUT, "over budget: nothing was moved"), file=sys.stderr)
            return refused
    compliance = compliance or Compliance()
    started = time.monotonic()
    run_id = run_id or new_run_id()
    run_dir = reports_root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *suite_args(
            spec,
            lab_speed,
            run_dir,
            run_id,
            keyword,
            markers,
            jobs=jobs,
            passive=passive,
            since=since,
        ),
        f"--alluredir={run_dir / 'allure-results'}",
        f"--junitxml={run_dir / 'junit.xml'}",
        *budget.pytest_args(),
    ]
    mode = " (passive: read only, no disruptive action)" if passive else ""
    print(f"qmaudit: run {run_id} against target {spec.text!r}{mode}", flush=True)
    progress = Progress()
    stop = RunStop(run_dir, run_id, spec.text)  # a second signal writes state and exits
    with stop.installed():
        rc = pytest.main(args, plugins=[progress, stop, ChosenTarget(spec)])
    for error in progress.errors:
        print(f"qmaudit: collection error: {plain_message(error)}", file=sys.stderr)
    as_found, how = journal_verdict(run_dir)
    if stop.flag.stopping:
        write_manifest(run_dir, run_id, {"target_spec": spec.text, "pytest_exit_code": int(rc)})
        compliance.sign(run_dir)
        print(f"qmaudit: run {run_id} INTERRUPTED by a signal: {how}", file=sys.stderr)
        if not as_found:
            print(last_line(Exit.NOT_AS_FOUND, "interrupted by a signal"), file=sys.stderr)
            return int(Exit.NOT_AS_FOUND)
        print(f"qmaudit: exit {stop.exit_code}: interrupted by a signal", file=sys.stderr)
        return stop.exit_code
    if not as_found:
        print(f"qmaudit: {how}", file=sys.stderr)
    # Waivers first (they change the Allure results), then the HTML, the summary, the manifest
    # over all of them, and last the signature over the final manifest.
    verdicts = compliance.claim_verdicts(run_dir)
    _print_table(verdicts, selected=bool(keyword or markers), checks=_claim_checks(run_dir))
    if passive:
        from harness.suite.pastdigest import history_digest

        print(f"(passive audit) {NOT_JUDGED}: scenarios that move a VM were skipped")
        for line in history_digest(run_dir):
            print(f"qmaudit: {line}")
    compliance.print_waivers(run_dir)
    html_msg = "HTML report skipped (--no-report)"
    config = None
    if history is not None:
        from harness.evidence.history import record_run

        write_manifest(run_dir, run_id, {"target_spec": spec.text, "pytest_exit_code": int(rc)})
        try:
            config, notes = record_run(run_dir, history, history_keep)
        except Exception as exc:
            # The audit's verdict stands without its history; say so and go on.
            name = type(exc).__name__
            detail = exc.message if isinstance(exc, HarnessError) else f"{name}: {exc}"
            notes = [f"not recorded: {detail}"]
        for note in notes:
            print(f"qmaudit: history: {note}", file=sys.stderr if config is None else sys.stdout)
        print(f"qmaudit: history  {history} (trend plots in {run_dir / 'trend'})")
    if report:
        _ok, html_msg = generate_html(run_dir / "allure-results", run_dir / "report", config=config)
    summary = compliance.write_summary(run_dir, run_id, spec.text, time.monotonic() - started)
    write_manifest(run_dir, run_id, {"target_spec": spec.text, "pytest_exit_code": int(rc)})
    signature = compliance.sign(run_dir)
    elapsed = time.monotonic() - started
    print(f"\nqmaudit: evidence  {run_dir / 'evidence'}")
    print(f"qmaudit: summary   {summary}")
    print(f"qmaudit: manifest  {run_dir / 'manifest.json'}")
    if signature is not None:
        print(f"qmaudit: signature {signature}")
    print(f"qmaudit: {html_msg}")
    print(f"qmaudit: wall time {elapsed:.1f} s")
    code, detail = run_outcome(int(rc), verdicts, as_found, waived_only=_waived(rc, run_dir))
    if refused_by_replay and code is Exit.HOLDS:
        code = Exit.NOT_JUDGED
        detail = f"{len(refused_by_replay)} scenario(s) refused by the replay, see the top"
    if code is Exit.NOT_AS_FOUND:
        detail = f"{how}; {detail}" if detail else how
    print(last_line(code, detail), file=sys.stdout if code is Exit.HOLDS else sys.stderr)
    return int(code)


def _waived(rc: int, run_dir: Path) -> bool:
    from harness.evidence.compliance import failures_all_waived

    return rc == pytest.ExitCode.TESTS_FAILED and failures_all_waived(run_dir)


def run_outcome(
    rc: int, verdicts: dict[str, str], as_found: bool, *, waived_only: bool = False
) -> tuple[Exit, str]:
    """The run's exit code and its detail from pytest's code, the claim verdicts and the journal.

    A cluster not left as found outranks everything; then a violated claim (FAILED); then a
    claim that could not be judged (BROKEN, or a suite that could not run); else every claim holds.
    """
    failed = [c for c, v in verdicts.items() if v == "failed"]
    broken = [c for c, v in verdicts.items() if v == "broken"]
    if not as_found:
        return Exit.NOT_AS_FOUND, ", ".join(
            [*(f"{c} FAILED" for c in failed), *(f"{c} BROKEN" for c in broken)]
        )
    if rc in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        return Exit.BAD_INPUT, f"the suite could not start (pytest exit {rc})"
    if failed:
        more = f"; not judged: {', '.join(broken)}" if broken else ""
        return Exit.VIOLATED, f"FAILED: {', '.join(failed)}{more}"
    if broken:
        return Exit.NOT_JUDGED, f"BROKEN: {', '.join(broken)}"
    if rc == pytest.ExitCode.NO_TESTS_COLLECTED or not verdicts:
        return Exit.NOT_JUDGED, "no scenario ran"
    if rc not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return Exit.NOT_JUDGED, f"the suite ended early (pytest exit {rc})"
    if rc == pytest.ExitCode.TESTS_FAILED and not waived_only:
        return Exit.NOT_JUDGED, "a scenario did not pass, see above"
    if waived_only:
        return Exit.HOLDS, "failures WAIVED, see the waivers above"
    return Exit.HOLDS, ""


def _claim_checks(run_dir: Path) -> dict[str, str]:
    from harness.evidence.manifest import read_records
    from harness.evidence.verdicts import claim_checks

    try:
        return claim_checks(read_records(run_dir))
    except (OSError, HarnessError):
        return {}


def _print_table(
    verdicts: dict[str, str], selected: bool, checks: dict[str, str] | None = None
) -> None:
    """The claim table; a skipped claim reads NOT JUDGED, and each says how it was checked."""
    checks = checks or {}
    width = 12 if selected else 10
    print(f"\nclaim  {'verdict':<{width}}  {'checked by':<32}  behaviour")
    print(f"-----  {'-' * width}  {'-' * 32}  " + "-" * 36)
    for claim in CLAIMS:
        verdict = verdicts.get(claim, "not selected" if selected else "not run")
        shown = "not judged" if verdict == "skipped" else verdict
        how = checks.get(claim) or "-"
        title = CLAIM_TITLES.get(claim, "")
        print(f"{claim}  {shown.upper():<{width}}  {how:<32}  {title}")
