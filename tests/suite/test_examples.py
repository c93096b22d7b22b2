"""docs/examples: the schedulers' qmaudit commands are real ones, and they run on the lab."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli import build_parser
from harness.lab.topology import DEFAULT_TOPOLOGY
from tests.suite.test_nightly import clean_env

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FILES = ["qmaudit-nightly.service", "crontab", "github-actions-nightly.yml", "Jenkinsfile"]
# `<path>/qmaudit <subcommand> args…` up to a quote, a redirection or a shell operator.
COMMAND = re.compile(r"\S*qmaudit\s+((?:run|compare|trend|plan|inventory)\b[^'\"\n>|&;]*)")
MATRIX_VARS = ("${{ matrix.cluster }}", "${CLUSTER}")


def _script_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".yml":
        doc = yaml.safe_load(text)
        return [
            str(step["run"])
            for job in doc["jobs"].values()
            for step in job["steps"]
            if "run" in step
        ]
    comment = ("#", "//")
    return [line for line in text.splitlines() if not line.strip().startswith(comment)]


def matrix_values(path: Path) -> list[str]:
    """The clusters an example runs one job for (GitHub matrix, Jenkins axis); [] if none."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".yml":
        return [
            str(v) for v in yaml.safe_load(text)["jobs"]["audit"]["strategy"]["matrix"]["cluster"]
        ]
    match = re.search(r"name 'CLUSTER'\s+values ([^\n]+)", text)
    return re.findall(r"'([^']+)'", match.group(1)) if match else []


def commands(path: Path, first_only: bool = False) -> list[list[str]]:
    """Every qmaudit command of an example, per matrix value where the example has a matrix."""
    found = [m.group(1).strip() for line in _script_lines(path) for m in COMMAND.finditer(line)]
    values = matrix_values(path) or [""]
    values = values[:1] if first_only else values
    out = []
    for value in values:
        for cmd in found:
            for var in MATRIX_VARS:
                cmd = cmd.replace(var, value)
            out.append(shlex.split(cmd))
    return out


@pytest.mark.parametrize("name", FILES)
def test_example_commands_parse(name: str) -> None:
    cmds = commands(EXAMPLES / name)
    assert cmds, f"{name}: no qmaudit command found"
    parser = build_parser()
    for args in cmds:
        parsed = parser.parse_args(args)  # an unknown option exits (SystemExit) and fails here
        assert parsed.command in ("run", "compare", "trend")
    kinds = [args[0] for args in cmds]
    assert "run" in kinds and all("--history" in args for args in cmds if args[0] == "run")


def test_examples_are_nightly_and_per_cluster() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions-nightly.yml").read_text())
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    assert workflow[True]["schedule"][0]["cron"]
    assert len(matrix_values(EXAMPLES / "github-actions-nightly.yml")) >= 2
    assert len(matrix_values(EXAMPLES / "Jenkinsfile")) >= 2
    timer = (EXAMPLES / "qmaudit-nightly.timer").read_text()
    assert re.search(r"^OnCalendar=\S", timer, re.MULTILINE)
    assert "qmaudit-nightly.service" in timer or "[Install]" in timer
    cron = [ln for ln in (EXAMPLES / "crontab").read_text().splitlines() if ln[:1].isdigit()]
    assert len(cron) == 1 and len(cron[0].split()[:5]) == 5


def lab_args(args: list[str], tmp: Path) -> list[str]:
    """An example's command pointed at the simulated lab: inventories become lab topologies
    named after them, absolute paths move under tmp, runs select the core claims only."""
    out = []
    it = iter(args)
    for arg in it:
        if arg in ("--target", "--history", "--out"):
            value = next(it)
            if arg == "--target" and value.endswith(".yaml"):
                name = Path(value).stem.upper()
                topo = tmp / "topologies" / f"{name}.yaml"
                topo.parent.mkdir(exist_ok=True)
                text = DEFAULT_TOPOLOGY.read_text().replace("name: QMLAB", f"name: {name}", 1)
                topo.write_text(text)
                value = f"lab+sim:{topo}"
            elif value.startswith("/"):
                value = str(tmp / value.lstrip("/"))
            out += [arg, value]
        else:
            out.append(arg)
    if out[0] == "run":
        out += ["-m", "core", "--no-report"]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_example_commands_run_on_the_lab(name: str, tmp_path: Path) -> None:
    # One matrix job is enough here: the others differ only by the cluster name (parsed above).
    cmds = [lab_args(args, tmp_path) for args in commands(EXAMPLES / name, first_only=True)]
    runs = [c for c in cmds if c[0] == "run"]
    # Two nights of runs, then what each example does after them (compare --last, trend).
    for args in [*runs, *runs, *[c for c in cmds if c[0] != "run"]]:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=clean_env(tmp_path),
        )
        assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
