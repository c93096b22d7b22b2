"""README "First run on a real cluster": its commands, run against the served lab, all exit 0."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from harness.lab.serve import LabServer
from tests.capture.conftest import lab_secrets

README = Path(__file__).resolve().parents[2] / "README.md"
ROOT = README.parent


def _commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## First run on a real cluster", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no sh block in the README section"
    out = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == ".venv/bin/qmaudit", line
            out.append(words[1:])
    return out


def test_section_has_capture_check_replay_and_one_core_claim() -> None:
    verbs = [(c[0], c[1] if len(c) > 1 else "") for c in _commands()]
    assert [v for v, _ in verbs] == ["capture", "check-inventory", "check-inventory", "run"]
    assert verbs[2][1].startswith("replay:")
    run = _commands()[3]
    assert run[run.index("-m") + 1] in {"QM-02", "QM-03", "QM-13", "QM-15"}


def test_readme_commands_work_on_the_lab(served_lab: LabServer, tmp_path: Path) -> None:
    env = {**os.environ, **lab_secrets(served_lab), "QM_LOCK_DIR": str(tmp_path / "locks")}
    env["PYTHONPATH"] = str(ROOT)
    inventory = str(served_lab.inventory_path)
    for command in _commands():
        args = [inventory if a == "prod.yaml" else a for a in command]
        args = [a.replace("first-contact", str(tmp_path / "first-contact")) for a in args]
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        if args[0] == "check-inventory":
            assert "unverified on Windows: " in done.stdout
    assert (tmp_path / "first-contact" / "capture.json").is_file()
    assert list((tmp_path / "reports").glob("*/manifest.json"))
