"""Fixtures: a lab served in the test process (its model is the ground truth) and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.audit.journal import JOURNAL_FILE, read_journal
from harness.audit.lock import LOCK_DIR_ENV
from harness.lab.clock import ScaledClock
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.serve import PASSWORD_ENV, USER_ENV, LabServer
from harness.lab.topology import load_default_topology

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServedLab:
    server: LabServer
    model: LabCluster
    inventory: Path
    env: dict[str, str]
    cwd: Path

    def truth(self) -> dict[str, Any]:
        """Every VM's owner and state and every node's state, as the lab model has them."""
        with self.model.session():
            return {
                "vms": {v.spec.name: (v.owner, v.state) for v in self.model.vms.values()},
                "nodes": {n.name: (n.state, n.drain_status) for n in self.model.members()},
            }

    def moves(self) -> int:
        return sum(len(self.model.ground_truth(name)) for name in self.model.vms)

    def qmaudit(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedLab]:
    """A lab over WinRM that outlives any qmaudit process the test starts and kills."""
    topology = load_default_topology()
    model = LabCluster(topology, ScaledClock(speed=10.0))
    server = LabServer(
        topology,
        speed=10.0,
        state_dir=str(tmp_path / "lab"),
        responder=LabResponder(model),
        auth=("ntlm",),
    )
    with server:
        creds = server.credentials
        assert creds is not None and server.inventory_path is not None
        env = dict(os.environ)
        env.update(
            {
                USER_ENV: creds.qualified_username,
                PASSWORD_ENV: creds.password,
                LOCK_DIR_ENV: str(tmp_path / "locks"),
                "PYTHONPATH": str(REPO),
            }
        )
        work = tmp_path / "work"
        work.mkdir()
        yield ServedLab(server, model, server.inventory_path, env, work)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def open_action(cwd: Path) -> tuple[Path, dict[str, Any]] | None:
    """The run folder and its journal's action entry not yet marked done, if any."""
    for path in (cwd / "reports").glob(f"*/{JOURNAL_FILE}"):
        entries = read_journal(path)
        done = {e.get("id") for e in entries if e["kind"] == "done"}
        for entry in entries:
            if entry["kind"] == "action" and entry["id"] not in done:
                return path.parent, entry
    return None
