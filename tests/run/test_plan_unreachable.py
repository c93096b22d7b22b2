"""`qmaudit plan` against unreachable nodes: done within the connect timeout, names the nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.targets.inventory import load_inventory
from harness.targets.reach import unreachable_nodes
from tests.targets.conftest import dead_port

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 2.0
BLACKHOLE = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never answers


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def _inventory(tmp_path: Path, live_port: int) -> Path:
    doc = {
        "cluster": "PRODCLU1",
        "defaults": {"scheme": "http", "transport": "ntlm", "connect_timeout_s": TIMEOUT_S},
        "credentials": {"username_env": "QMT_USER", "password_env": "QMT_PASSWORD"},
        "nodes": [
            {"name": "HV01", "host": "127.0.0.1", "port": live_port},
            {"name": "HV02", "host": "127.0.0.1", "port": dead_port()},
            {"name": "HV03", "host": BLACKHOLE, "port": 5985},
            {"name": "HV04", "host": "192.0.2.2", "port": 5985},
        ],
        "vms": {"allow": ["qm-*"]},
    }
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_unreachable_nodes_are_found_in_parallel_within_the_timeout(
    tmp_path: Path, listener: int
) -> None:
    inventory = load_inventory(_inventory(tmp_path, listener))
    started = time.monotonic()
    found = unreachable_nodes(inventory)
    elapsed = time.monotonic() - started
    assert [u.node for u in found] == ["HV02", "HV03", "HV04"]
    assert elapsed < TIMEOUT_S + 1.0, elapsed  # tried side by side, not one after the other


def test_plan_names_the_unreachable_nodes_instead_of_every_scenario(
    tmp_path: Path, listener: int
) -> None:
    path = _inventory(tmp_path, listener)
    env = {**os.environ, "PYTHONPATH": str(REPO), "QMT_USER": "u", "QMT_PASSWORD": "p-unused-1"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "plan", "--target", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for node in ("HV02", "HV03", "HV04"):
        assert f"node {node} unreachable at" in proc.stderr
    assert "HV01" not in proc.stderr
    assert "would not run" not in proc.stderr
    assert "3 node(s) unreachable; nothing was run" in proc.stderr
    assert not (tmp_path / "reports").exists()
    assert elapsed < TIMEOUT_S + 30, elapsed  # interpreter start and imports on a busy machine
