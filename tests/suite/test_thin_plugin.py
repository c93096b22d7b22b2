"""The pytest plugin stays idle without a target: no step module, no lab, no topology loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

UNRELATED_TEST = "def test_unrelated():\n    assert 1 + 1 == 2\n"


# pytest imports plugins with importlib, which -X importtime does not log (only the `import`
# statements they run): the module list is also read from sys.modules when pytest is done.
SESSION = """
import json, sys
import pytest
rc = pytest.main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(int(rc))
"""


def _imported(folder: Path, *args: str) -> tuple[int, set[str]]:
    """Run pytest under `python -X importtime` in `folder`: (exit code, modules imported)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QM_"))}
    listing = folder / "modules.json"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SESSION, str(listing), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    modules = set(json.loads(listing.read_text())) if listing.is_file() else set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name)
    return done.returncode, modules


AUDIT_PREFIXES = (
    "steps.",
    "harness.lab",
    "features",
    "harness.suite.hooks",
    "harness.suite.fixtures",
)


def _audit_modules(modules: set[str]) -> set[str]:
    return {
        m
        for m in modules
        if m == "steps"
        or m.startswith(("steps.", "harness.lab", "features", "harness.suite.hooks"))
    }


def test_plain_pytest_in_an_unrelated_folder_imports_no_step_module_nor_the_lab(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_unrelated.py").write_text(UNRELATED_TEST)
    rc, modules = _imported(tmp_path, "-p", "no:cacheprovider", "test_unrelated.py")
    assert rc == 0
    assert "harness.suite.plugin" in modules, "the qmaudit plugin was not even loaded"
    assert _audit_modules(modules) == set()
    assert not (tmp_path / "reports").exists(), "an idle plugin wrote a run folder"


def test_with_a_target_the_same_check_sees_the_steps_and_the_lab(tmp_path: Path) -> None:
    """The check above can fail: with --qm-target the plugin loads steps and the lab."""
    (tmp_path / "test_unrelated.py").write_text(UNRELATED_TEST)
    rc, modules = _imported(
        tmp_path,
        "-p",
        "no:cacheprovider",
        "--qm-target",
        "lab+sim",
        f"--qm-run-dir={tmp_path / 'run'}",
        "--collect-only",
        "test_unrelated.py",
    )
    assert rc == 0
    found = _audit_modules(modules)
    assert "steps.common" in found
    assert any(m.startswith("harness.lab") for m in found)
