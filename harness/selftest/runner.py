"""`qmaudit selftest`: the audit suite on the clean lab and on each defect profile -> matrix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
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

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "features"
RUN_TIMEOUT_S = 600.0
SCALED_LAB_SPEED = 20.0
OUTCOMES = ("passed", "failed", "broken", "skipped")
_INVARIANTS = re.compile(r"\[move invariants broken: (QM-\d+(?:, QM-\d+)*)\]")


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Plugin side (`-p harness.selftest.runner`): scenario claims become JUnit properties."""
    for item in items:
        for mark in item.iter_markers("claim"):
            item.user_properties.append(("claim", str(mark.args[0])))


def _phase_errors(cases: list[ET.Element], phase: str) -> list[str]:
    messages = [el.get("message") or "" for case in cases for el in case.findall("error")]
    return [m for m in messages if m.startswith(f"failed on {phase}")]


def invariant_claims(messages: list[str]) -> tuple[str, ...]:
    """Claims named by move-invariant failures (a setup, restore or leg move broke them)."""
    found = {c for m in messages for group in _INVARIANTS.findall(m) for c in group.split(", ")}
    return tuple(sorted(found))


def _classify(name: str, cases: list[ET.Element], claims: tuple[str, ...]) -> ScenarioOutcome:
    """One scenario from its JUnit entries (pytest writes a second entry for a teardown error)."""
    failures = [el.get("message") or "" for case in cases for el in case.findall("failure")]
    setup, teardown = _phase_errors(cases, "setup"), _phase_errors(cases, "teardown")
    # A move the scenario did not judge itself broke an invariant: the failure belongs to the
    # invariant's claims, not to the scenario's (which was never reached or passed).
    moved = [m for m in failures + teardown if "AssertionError" in m and _INVARIANTS.search(m)]
    if moved and all(_INVARIANTS.search(m) for m in failures + teardown):
        return ScenarioOutcome(name, "failed", " | ".join(moved), invariant_claims(moved))
    other = [
        el.get("message") or ""
        for case in cases
        for el in case.findall("error")
        if not (el.get("message") or "").startswith(("failed on setup", "failed on teardown"))
    ]
    skipped = [el.get("message") or "" for case in cases for el in case.findall("skipped")]
    note = f" [teardown: {' | '.join(teardown)}]" if teardown else ""
    if setup or other:
        return ScenarioOutcome(name, "broken", " | ".join(setup + other) + note, claims)
    if failures:
        # A violated claim is an AssertionError raised by a step; any other exception type in
        # the call phase means the scenario could not reach a verdict (broken).
        verdict = "failed" if all(m.startswith("AssertionError") for m in failures) else "broken"
        return ScenarioOutcome(name, verdict, " | ".join(failures) + note, claims)
    if teardown:
        return ScenarioOutcome(name, "broken", note.strip(), claims)
    if skipped:
        return ScenarioOutcome(name, "skipped", skipped[0], claims)
    return ScenarioOutcome(name, "passed", "", claims)


def parse_junit(path: Path) -> tuple[ScenarioOutcome, ...]:
    """Scenario outcomes from a pytest JUnit XML report, one per scenario, in report order."""
    grouped: dict[str, list[ET.Element]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        grouped.setdefault(f"{case.get('classname')}::{case.get('name')}", []).append(case)
    out = []
    for key, cases in grouped.items():
        claims = {
            prop.get("value") or ""
            for case in cases
            for prop in case.iter("property")
            if prop.get("name") == "claim"
        }
        out.append(_classify(key.rsplit("::", 1)[-1], cases, tuple(sorted(claims))))
    return tuple(out)


def lab_spec(lab: str, topology: Path | None) -> str:
    """The target spec of the embedded lab: simulated time (`sim`) or scaled real time."""
    prefix = "lab+sim" if lab == "sim" else "lab+inproc"
    return f"{prefix}:{topology}" if topology else prefix


def run_scenarios(
    workdir: Path, topology: Path | None, marker: str | None = None, lab: str = "sim"
) -> RunResult:
    """Run the feature scenarios (all, or one marker's) in a fresh process against the lab."""
    junit = workdir / "junit.xml"
    command = [
        sys.executable, "-m", "pytest", str(FEATURES),
        "--qm-target", lab_spec(lab, topology),
        "--qm-lab-speed", str(SCALED_LAB_SPEED),
        "--qm-run-dir", str(workdir / "run"),
        "--junitxml", str(junit),
        "-p", "harness.selftest.runner",
        # xdist: one lab per process; hypothesis: not used by the scenarios, slow to import.
        "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q",
    ]  # fmt: skip
    if marker:
        command += ["-m", marker]
    # The parent's pytest settings and run id must not leak into the audited run.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "QM_RUN_ID")}
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    scenarios = parse_junit(junit) if junit.exists() else ()
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


def profile_variant(profiles: Sequence[Profile]) -> Variant:
    """One run carrying every given profile at once (the union of their breaks is expected)."""
    name = " + ".join(p.name for p in profiles)
    kind = "combined" if len(profiles) > 1 else "profile"
    return Variant(
        name,
        kind,
        expected_breaks(profiles),
        lambda d: write_profiled_topology(d, profiles),
        primary=primary_claims(profiles),
    )


def clean_variant() -> Variant:
    return Variant("clean lab", "clean", (), lambda _d: None)


def text_variant(name: str, text: str) -> Variant:
    """A clean topology given as YAML text (random topologies): nothing may fail."""

    def write(folder: Path) -> Path:
        path = folder / "topology.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return Variant(name, "random", (), write, text)


def run_variant(variant: Variant, lab: str) -> Row:
    with tempfile.TemporaryDirectory(prefix="qm-selftest-") as tmp:
        topology = variant.write(Path(tmp))
        result = run_scenarios(Path(tmp), topology, None, lab)
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
