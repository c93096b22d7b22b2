"""Run the audit scenarios against a lab with one rule switched off and classify the outcomes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.lab import paths
from harness.lab.rules import Rule
from harness.lab.topology import DEFAULT_TOPOLOGY, load_default_topology, load_topology

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "features"
LAB_SPEED = 40.0
RUN_TIMEOUT_S = 300.0
_EMPTY_RULES_OFF = "rules_off: []"


@dataclass(frozen=True)
class ScenarioOutcome:
    """One collected scenario: passed, failed (AssertionError), broken (other error) or skipped."""

    name: str
    outcome: str
    message: str = ""


@dataclass(frozen=True)
class RunResult:
    """The outcomes of one pytest run over the feature files."""

    exit_code: int
    scenarios: tuple[ScenarioOutcome, ...]
    output: str

    def named(self, outcome: str) -> list[ScenarioOutcome]:
        return [s for s in self.scenarios if s.outcome == outcome]

    def summary(self) -> str:
        counts = {o: len(self.named(o)) for o in ("passed", "failed", "broken", "skipped")}
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n)

    def detail(self) -> str:
        """Every scenario that did not pass, with its message (for assertion messages)."""
        lines = [f"{s.outcome}: {s.name}: {s.message[:300]}" for s in self.scenarios]
        lines = [line for line in lines if not line.startswith("passed")]
        return "\n".join(lines) or self.output[-2000:]


def _system_drive_node() -> str:
    """The member node whose ProgramData is not on drive C (the QM-22 node)."""
    topology = load_default_topology()
    for node in topology.nodes:
        if not paths.under(node.program_data, "C:\\"):
            return node.name
    raise LookupError("the default topology has no node with ProgramData off drive C")


def rules_off_entry(rule: Rule) -> dict[str, Any]:
    """The rules_off entry for a rule: whole cluster, or the one node where it shows."""
    if rule.id == "links_under_program_data":
        # The broken rule writes under C:\ProgramData: only a node whose ProgramData is elsewhere
        # behaves differently, so that node is the scope that makes the scenario meaningful.
        return {"rule": rule.id, "node": _system_drive_node()}
    return {"rule": rule.id}


def write_topology(folder: Path, entries: list[dict[str, Any]]) -> Path:
    """The default topology's text with `rules_off` replaced by the entries; validated."""
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines.count(_EMPTY_RULES_OFF) != 1:
        raise ValueError(f"expected one line {_EMPTY_RULES_OFF!r} in {DEFAULT_TOPOLOGY}")
    # JSON is valid YAML flow style; replacing the line keeps every other value as written
    # (a YAML round trip would have to care about `state: Off` and the like).
    lines[lines.index(_EMPTY_RULES_OFF)] = "rules_off: " + json.dumps(entries)
    path = folder / "topology.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_topology(path)  # fail here, clearly, rather than as a broken run
    return path


def _phase_errors(cases: list[ET.Element], phase: str) -> list[str]:
    messages = [el.get("message") or "" for case in cases for el in case.findall("error")]
    return [m for m in messages if m.startswith(f"failed on {phase}")]


def _outcome(name: str, cases: list[ET.Element]) -> ScenarioOutcome:
    """One scenario from its JUnit entries (pytest writes a second entry for a teardown error)."""
    failures = [el.get("message") or "" for case in cases for el in case.findall("failure")]
    setup, teardown = _phase_errors(cases, "setup"), _phase_errors(cases, "teardown")
    other = [
        el.get("message") or ""
        for case in cases
        for el in case.findall("error")
        if not (el.get("message") or "").startswith(("failed on setup", "failed on teardown"))
    ]
    skipped = [el.get("message") or "" for case in cases for el in case.findall("skipped")]
    note = f" [teardown: {' | '.join(teardown)}]" if teardown else ""
    if setup or other:
        return ScenarioOutcome(name, "broken", " | ".join(setup + other) + note)
    if failures:
        # A violated claim is an AssertionError raised by a step; any other exception type in
        # the call phase means the scenario could not reach a verdict (broken).
        verdict = "failed" if all(m.startswith("AssertionError") for m in failures) else "broken"
        return ScenarioOutcome(name, verdict, " | ".join(failures) + note)
    if teardown:
        return ScenarioOutcome(name, "broken", note.strip())
    if skipped:
        return ScenarioOutcome(name, "skipped", skipped[0])
    return ScenarioOutcome(name, "passed")


def parse_junit(path: Path) -> tuple[ScenarioOutcome, ...]:
    """Scenario outcomes from a pytest JUnit XML report, one per scenario, in report order."""
    grouped: dict[str, list[ET.Element]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        grouped.setdefault(f"{case.get('classname')}::{case.get('name')}", []).append(case)
    return tuple(_outcome(key.rsplit("::", 1)[-1], cases) for key, cases in grouped.items())


def run_scenarios(workdir: Path, topology: Path | None, marker: str | None) -> RunResult:
    """Run the feature scenarios (all, or one claim's) in a fresh process against the lab."""
    junit = workdir / "junit.xml"
    target = f"lab+inproc:{topology}" if topology else "lab+inproc"
    command = [
        sys.executable, "-m", "pytest", str(FEATURES),
        "--qm-target", target,
        "--qm-lab-speed", str(LAB_SPEED),
        "--qm-run-dir", str(workdir / "run"),
        "--junitxml", str(junit),
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
    output = done.stdout + done.stderr
    scenarios = parse_junit(junit) if junit.exists() else ()
    return RunResult(done.returncode, scenarios, output)
