"""Fixtures: the served lab of tests/targets, and one capture of it shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.lab.serve import PASSWORD_ENV, USER_ENV, LabServer
from tests.targets.conftest import lab_env, lab_inventory_doc, served_lab

__all__ = ["lab_env", "lab_inventory_doc", "served_lab"]


def lab_secrets(served: LabServer) -> dict[str, str]:
    creds = served.credentials
    assert creds is not None
    return {USER_ENV: creds.qualified_username, PASSWORD_ENV: creds.password}


@pytest.fixture(scope="module")
def lab_capture(served_lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A plain capture of the served lab (exit code checked by the tests that need it)."""
    out = tmp_path_factory.mktemp("capture") / "plain"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in lab_secrets(served_lab).items():
            patch.setenv(key, value)
        code = main(["capture", "--target", str(served_lab.inventory_path), "--out", str(out)])
    assert code == 0
    yield out
