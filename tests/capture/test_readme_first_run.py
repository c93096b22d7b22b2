"""README: its first screen, its five steps run against the served lab, its links resolve."""

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
STEPS = "## Your cluster in five steps"


def _block(heading: str) -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block under {heading}"
    return [w for w in (shlex.split(ln, comments=True) for ln in block.group(1).splitlines()) if w]


def test_first_screen_is_the_two_commands_then_the_five_steps() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
    first = _block("# qmaudit\n")
    assert first == [["bash", "scripts/audit.sh"], ["bash", "scripts/test.sh"]]
    # The five steps start within the first screen a reader scrolls to (about 40 lines).
    assert lines.index(STEPS) < 40
    verbs = [(c[1], c[1:]) for c in _block(STEPS)]
    assert [v for v, _ in verbs] == ["capture", "check-inventory", "plan", "run", "run"]
    for _verb, args in verbs:
        assert args[args.index("--target") + 1] == "prod.yaml"
    assert "--passive" in verbs[3][1] and "--max-moves" in verbs[4][1]


def test_readme_links_resolve() -> None:
    for page in (README, ROOT / "docs" / "README.md"):
        for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in link:
                assert (page.parent / link).exists(), f"{page.name}: {link}"


def test_readme_five_steps_work_on_the_lab(served_lab: LabServer, tmp_path: Path) -> None:
    env = {**os.environ, **lab_secrets(served_lab), "QM_LOCK_DIR": str(tmp_path / "locks")}
    env["PYTHONPATH"] = str(ROOT)
    outputs = []
    for command in _block(STEPS):
        assert command[0] == ".venv/bin/qmaudit", command
        args = [str(served_lab.inventory_path) if a == "prod.yaml" else a for a in command[1:]]
        args = [a.replace("first-contact", str(tmp_path / "first-contact")) for a in args]
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout)
    capture, check, plan, passive, run = outputs
    assert (tmp_path / "first-contact" / "capture.json").is_file()
    # check-inventory: one line counts the unverified facts; the verdict comes after it.
    count = [ln for ln in check.splitlines() if ln.startswith("unverified on Windows: ")]
    assert len(count) == 1 and "check-inventory --all" in count[0]
    assert "moves" in plan
    assert run.strip().splitlines()[-1] == "qmaudit: exit 0: every claim checked holds"
    assert len(list((tmp_path / "reports").glob("*/manifest.json"))) == 2  # passive, then a move
    assert passive.strip().splitlines()[-1].startswith("qmaudit: exit 0: ")
    del capture
