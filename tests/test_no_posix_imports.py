"""Every harness module imports with the POSIX-only modules made unimportable (as on Windows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSIX_ONLY = ("fcntl", "termios", "pwd", "grp", "resource")

IMPORT_ALL = """
import sys
for name in {blocked!r}:
    sys.modules.pop(name, None)
    sys.modules[name] = None  # `import name` now raises ImportError, as on Windows
import importlib, pkgutil
sys.path.insert(0, ".")
failed = []
count = 0
for package in [importlib.import_module(n) for n in sys.argv[1:]]:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        count += 1
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # report every module, not only the first
            failed.append(f"{{info.name}}: {{type(exc).__name__}}: {{exc}}")
print(count)
for line in failed:
    print(line)
sys.exit(1 if failed else 0)
"""


def _import_all(packages: list[str], cwd: Path) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(blocked=POSIX_ONLY), *packages],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = proc.stdout.splitlines()
    assert lines, proc.stderr[-2000:]
    return int(lines[0]), lines[1:] + ([proc.stderr[-2000:]] if proc.returncode else [])


def test_every_module_imports_without_posix_only_modules() -> None:
    count, failed = _import_all(["harness", "steps"], REPO)
    assert not failed, "\n".join(failed)
    assert count > 100, "the walk found too few modules to mean anything"


def test_a_module_importing_fcntl_fails_the_check(tmp_path: Path) -> None:
    """The same walk reports a module that imports fcntl at module level: the check can fail."""
    package = tmp_path / "posixonly"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("import os\n")
    (package / "locks.py").write_text("import fcntl\n")
    count, failed = _import_all(["posixonly"], tmp_path)
    assert count == 2
    assert len(failed) == 2 and "posixonly.locks: ModuleNotFoundError" in failed[0], failed
