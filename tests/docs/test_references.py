"""The repository stands on its own: no file refers to material outside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in two pieces so this file does not match itself.
OUTSIDE = ("../" + "shared", "/work/" + "shared")


def test_no_file_refers_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(files) > 100
    offenders = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert offenders == []


def test_architecture_names_existing_folders() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for folder in ("suite", "audit", "targets", "drivers", "transport", "probes", "schemas"):
        assert f"harness/{folder}/" in text
        assert (ROOT / "harness" / folder).is_dir()
