"""The ledger is found in a wheel (harness/docs/) and in a checkout, also one without symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.targets import fidelity


def test_a_symlink_stand_in_is_not_taken_for_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As git writes a symlink where it cannot create one: a file holding the target's path.
    package = tmp_path / "harness"
    (package / "docs").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "docs" / fidelity.LEDGER).write_text("../../docs/windows-fidelity.md", "utf-8")
    real = Path(harness.__file__).resolve().parents[1] / "docs" / fidelity.LEDGER
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / fidelity.LEDGER).write_text(real.read_text("utf-8"), "utf-8")
    monkeypatch.setattr(harness, "__file__", str(package / "__init__.py"))
    assert fidelity.ledger_path() == tmp_path / "docs" / fidelity.LEDGER
    (tmp_path / "docs" / fidelity.LEDGER).unlink()
    assert fidelity.ledger_path() is None
