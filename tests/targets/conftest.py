"""Fixtures: one lab served over WinRM for the module, its inventory, credentials in the env."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.lab.serve import PASSWORD_ENV, USER_ENV, LabServer
from harness.lab.topology import load_default_topology


@pytest.fixture(scope="module")
def served_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    state = tmp_path_factory.mktemp("lab-state")
    with LabServer(load_default_topology(), state_dir=str(state), auth=("ntlm",)) as server:
        yield server


@pytest.fixture
def lab_env(served_lab: LabServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The two variables the lab inventory names, set as the banner's export lines would."""
    creds = served_lab.credentials
    assert creds is not None
    env = {USER_ENV: creds.qualified_username, PASSWORD_ENV: creds.password}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def lab_inventory_doc(served_lab: LabServer) -> dict[str, Any]:
    assert served_lab.inventory_path is not None
    doc: dict[str, Any] = yaml.safe_load(served_lab.inventory_path.read_text(encoding="utf-8"))
    return doc


def write_inventory(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
