"""The served lab: scaled real time and concurrent readers give the same outcome."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from harness.lab.clock import ScaledClock
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.topology import load_default_topology


def test_move_on_scaled_clock_with_concurrent_pollers() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    c = LabCluster(load_default_topology(), ScaledClock(start, speed=400.0))
    r = LabResponder(c)
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            while not stop.is_set():
                # Get-VM answers on the owner only: poll the node the VM moves to.
                doc = r.answer("HV-C", "move_status", {"vm_names": ["batch01"]})
                seen.append(doc["vms"][0]["vm_state"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for t in threads:
        t.start()
    r.answer("HV-A", "move_vm", {"vm_names": ["batch01"], "node": "HV-C"})
    c.settle()  # real sleep of a few milliseconds
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    (rec,) = c.ground_truth("batch01")
    mem = 512 * 1024 * 1024
    assert rec.downtime_s is not None
    assert abs(rec.downtime_s - (mem / 800e6 + 0.5 + mem / 1000e6)) < 1e-4
    assert c.vm("batch01").owner == "HV-C"
    assert "Running" in seen
