"""`qmaudit selftest`: the audit suite on the clean lab and on each defect profile -> matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.selftest.profiles import (
    Profile,
    expected_breaks,
    primary_claims,
    write_profiled_topology,
)
from harness.suite.runner import features_dir

RUN_TIMEOUT_S = 600.0
SCALED_LAB_SPEED = 20.0
OUTCOMES = ("passed", "failed", "broken", "skipped")


@dataclass(frozen=True)
class ScenarioOutcome:
    """One collected scenario: passed, failed (AssertionError), broken (other error) or skipped."""

    name: str
    outcome: str
    message: str = ""
    claims: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """The outcomes of one pytest run over the feature files."""

    exit_code: int
    scenarios: tuple[ScenarioOutcome, ...]
    output: str

    def named(self, outcome: str) -> list[ScenarioOutcome]:
        return [s for s in self.scenarios if s.outcome == outcome]

    def claims(self, outcome: str) -> tuple[str, ...]:
        """The claims with at least one scenario of that outcome, sorted."""
        return tuple(sorted({c for s in self.named(outcome) for c in s.claims}))

    def summary(self) -> str:
        counts = {o: len(self.named(o)) for o in OUTCOMES}
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n)

    def detail(self) -> str:
        """Every scenario that did not pass, with its message (for assertion messages)."""
        lines = [f"{s.outcome}: {s.name}: {s.message[:300]}" for s in self.scenarios]
        lines = [line for line in lines if not line.startswith(("passed", "skipped"))]
        return "\n".join(lines) or self.output[-2000:]


COLLECTED_FILE = "collected.json"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Plugin side (`-p harness.selftest.runner`): the claim of every collected scenario.

    A scenario that could not even start (the target did not open) leaves no evidence record;
    this list is how the self-test still counts it (as broken).
    """
    run_dir = session.config.getoption("--qm-run-dir", None)
    if not run_dir:
        return
    claims = [str(m.args[0]) for item in session.items for m in item.iter_markers("claim")]
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / COLLECTED_FILE).write_text(json.dumps(claims), encoding="utf-8")


def read_outcomes(run_dir: Path) -> tuple[ScenarioOutcome, ...]:
    """Scenario outcomes from the run's evidence records (their verdicts, one rule for all).

    Every collected scenario without a record counts as broken: it produced no evidence.
    """
    from harness.evidence.manifest import read_records
    from harness.evidence.verdicts import record_claim_verdicts

    out = []
    records = read_records(run_dir)
    for rec in records:
        name = str(rec["scenario"])  # as rendered by pytest-bdd, with its example values
        failure = str(rec.get("failure") or "")
        # One outcome per claim the record speaks for: a broken move invariant fails the claims
        # it names, whichever scenario's (setup, leg or restore) move it was.
        for claim, verdict in record_claim_verdicts(rec):
            out.append(ScenarioOutcome(name, verdict, failure, (claim,)))
    collected_file = run_dir / COLLECTED_FILE
    if collected_file.is_file():
        missing = Counter(json.loads(collected_file.read_text(encoding="utf-8")))
        missing.subtract(Counter(str(rec["claim"]) for rec in records))
        for claim, count in sorted(missing.items()):
            out += [
                ScenarioOutcome(
                    f"a scenario of {claim}",
                    "broken",
                    "no evidence record: it could not start",
                    (claim,),
                )
            ] * max(0, count)
    return tuple(out)


def lab_spec(lab: str, topology: Path | None) -> str:
    """The target spec of the embedded lab: simulated time (`sim`) or scaled real time."""
    prefix = "lab+sim" if lab == "sim" else "lab+inproc"
    return f"{prefix}:{topology}" if topology else prefix


def run_scenarios(
    workdir: Path,
    topology: Path | None,
    marker: str | None = None,
    lab: str = "sim",
    passive: bool = False,
) -> RunResult:
    """Run the feature scenarios (all, or one marker's) in a fresh process against the lab."""
    run_dir = workdir / "run"
    command = [
        sys.executable, "-m", "pytest", str(features_dir()),
        "--qm-target", lab_spec(lab, topology),
        "--qm-lab-speed", str(SCALED_LAB_SPEED),
        "--qm-run-dir", str(run_dir),
        "-p", "harness.selftest.runner",
        # xdist: one lab per process; hypothesis: not used by the scenarios, slow to import.
        "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q",
    ]  # fmt: skip
    if marker:
        command += ["-m", marker]
    if passive:
        command += ["--qm-passive"]
    # The parent's pytest settings and run id must not leak into the audited run.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "QM_RUN_ID")}
    done = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    scenarios = read_outcomes(run_dir) if (run_dir / "evidence").is_dir() else ()
    return RunResult(done.returncode, scenarios, done.stdout + done.stderr)


@dataclass(frozen=True)
class Row:
    """One line of the detection matrix: a lab variant, what it must break, what it broke."""

    name: str
    expected: tuple[str, ...]
    failed: tuple[str, ...]
    broken: tuple[str, ...]
    counts: dict[str, int]
    kind: str = "profile"  # "clean", "profile", "combined" or "random"
    detail: str = ""
    topology: str = ""
    # The claims backed by the switched-off rules: these must fail on an assertion (a verdict),
    # not merely break, or the defect went undetected.
    primary: tuple[str, ...] = ()

    @property
    def missed(self) -> tuple[str, ...]:
        """Expected claims that did not show: primary ones not failed, others not failed/broken."""
        shown = set(self.failed + self.broken)
        return tuple(
            c
            for c in self.expected
            if (c in self.primary and c not in self.failed) or c not in shown
        )

    @property
    def unexpected(self) -> tuple[str, ...]:
        """Claims that failed or broke although the variant does not break them (false alarms)."""
        return tuple(sorted({c for c in self.failed + self.broken if c not in self.expected}))

    @property
    def ok(self) -> bool:
        ran = sum(self.counts.values()) > 0
        return ran and not self.missed and not self.unexpected


def make_row(
    name: str,
    expected: Sequence[str],
    result: RunResult,
    kind: str,
    topology: str = "",
    primary: Sequence[str] = (),
) -> Row:
    counts = {o: len(result.named(o)) for o in OUTCOMES}
    row = Row(
        name,
        tuple(sorted(expected)),
        result.claims("failed"),
        result.claims("broken"),
        counts,
        kind,
        topology=topology,
        primary=tuple(sorted(primary)),
    )
    if row.ok:
        return row
    detail = result.detail() if result.scenarios else result.output[-2000:]
    return Row(**{**row.__dict__, "detail": detail})


@dataclass
class Variant:
    """A lab variant to run: its name, kind, expected failures and how to write its topology."""

    name: str
    kind: str
    expected: tuple[str, ...]
    write: Callable[[Path], Path | None]
    topology_text: str = field(default="", repr=False)
    primary: tuple[str, ...] = ()
    passive: bool = False  # a passive audit (no move) of the variant


def profile_variant(profiles: Sequence[Profile]) -> Variant:
    """One run carrying every given profile at once (the union of their breaks is expected)."""
    passive = any(p.mode == "passive" for p in profiles)
    name = " + ".join(p.name for p in profiles) + (" (passive)" if passive else "")
    kind = "combined" if len(profiles) > 1 else "profile"
    return Variant(
        name,
        kind,
        expected_breaks(profiles),
        lambda d: write_profiled_topology(d, profiles),
        primary=primary_claims(profiles),
        passive=passive,
    )


def clean_variant(passive: bool = False) -> Variant:
    name = "clean lab (passive)" if passive else "clean lab"
    return Variant(name, "clean", (), lambda _d: None, passive=passive)


def text_variant(name: str, text: str, passive: bool = False) -> Variant:
    """A clean topology given as YAML text (random topologies): nothing may fail."""

    def write(folder: Path) -> Path:
        path = folder / "topology.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return Variant(name, "random", (), write, text, passive=passive)


def run_variant(variant: Variant, lab: str) -> Row:
    with tempfile.TemporaryDirectory(prefix="qm-selftest-") as tmp:
        topology = variant.write(Path(tmp))
        result = run_scenarios(Path(tmp), topology, None, lab, variant.passive)
    return make_row(
        variant.name,
        variant.expected,
        result,
        variant.kind,
        variant.topology_text,
        variant.primary,
    )


def run_variants(
    variants: Sequence[Variant], lab: str = "sim", jobs: int = 2, progress: bool = False
) -> list[Row]:
    """Run every variant in its own process, `jobs` at a time; rows in the variants' order."""

    def one(variant: Variant) -> Row:
        row = run_variant(variant, lab)
        if progress:
            print(f"  {'ok  ' if row.ok else 'FAIL'} {row.name}", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, variants))


def timed(func: Callable[[], list[Row]]) -> tuple[list[Row], float]:
    start = time.monotonic()
    rows = func()
    return rows, time.monotonic() - start
