"""The exit codes of `qmaudit run`: each one reached, documented, and said in the last line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.exits import WORDS, Exit, last_line, worst_exit
from harness.selftest.profiles import PROFILES_DIR, load_profile, write_profiled_topology
from harness.suite.runner import run_outcome

ROOT = Path(__file__).resolve().parents[2]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", *args, "--no-report", "--no-history"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    # stdout and stderr are separate pipes here: the last line is the last of either stream
    # that starts with "qmaudit: exit".
    lines = (done.stdout + done.stderr).strip().splitlines()
    return [ln for ln in lines if ln.startswith("qmaudit: exit ")][-1]


def _profiled(tmp_path: Path, name: str) -> str:
    return f"lab+sim:{write_profiled_topology(tmp_path, [load_profile(PROFILES_DIR / name)])}"


@pytest.mark.parametrize(
    ("target", "markers", "code"),
    [
        ("lab+sim", "QM-13", Exit.HOLDS),
        ("storage-slower-than-declared.yaml", "QM-09", Exit.VIOLATED),
        ("storage-unreachable-from-target.yaml", "QM-02", Exit.NOT_JUDGED),
        ("nonsense", "QM-13", Exit.BAD_INPUT),
    ],
)
def test_each_exit_code_and_its_last_line(
    tmp_path: Path, target: str, markers: str, code: Exit
) -> None:
    spec = _profiled(tmp_path, target) if target.endswith(".yaml") else target
    done = _run(tmp_path, "--target", spec, "-m", markers)
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    line = _last_line(done)
    assert line.startswith(last_line(code)), line
    # The process's very last output line (whichever stream) is that line.
    tail = done.stderr.strip().splitlines() if code else done.stdout.strip().splitlines()
    assert tail[-1] == line


def test_outcome_rules() -> None:
    ok = {"QM-01": "passed", "QM-02": "skipped"}
    assert run_outcome(0, ok, True)[0] is Exit.HOLDS
    assert run_outcome(1, {"QM-01": "failed", "QM-02": "broken"}, True) == (
        Exit.VIOLATED,
        "FAILED: QM-01; not judged: QM-02",
    )
    assert run_outcome(1, {"QM-01": "broken", "QM-02": "passed"}, True)[0] is Exit.NOT_JUDGED
    # Not as found outranks a violation; a violation outranks a claim not judged.
    assert run_outcome(1, {"QM-01": "failed"}, False)[0] is Exit.NOT_AS_FOUND
    assert run_outcome(0, ok, False)[0] is Exit.NOT_AS_FOUND
    assert run_outcome(5, {}, True)[0] is Exit.NOT_JUDGED  # nothing ran: nothing judged
    assert run_outcome(4, {}, True)[0] is Exit.BAD_INPUT
    assert run_outcome(1, {"QM-01": "waived"}, True, waived_only=True)[0] is Exit.HOLDS
    assert run_outcome(1, {"QM-01": "passed"}, True)[0] is Exit.NOT_JUDGED


def test_several_runs_end_with_the_most_urgent() -> None:
    assert worst_exit([0, 3, 1, 2]) == 1
    assert worst_exit([0, 3, 4, 1]) == 4
    assert worst_exit([0, 3]) == 3 and worst_exit([3, 2]) == 2
    assert worst_exit([4, 130]) == 130 and worst_exit([]) == 0


def test_every_exit_code_is_documented_in_the_same_words() -> None:
    doc = (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\d+)` \| ([^|]+?) \|", doc, re.M))
    assert {int(k): v for k, v in rows.items()} == {int(c): w for c, w in WORDS.items()}
