"""PSRP: one runspace pool per node (pypsrp) against the lab's PSRP endpoint (psrpcore)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from harness.drivers.lab import lab_endpoints
from harness.drivers.winrm import WinRMDriver
from harness.errors import HarnessError, ProbeFailedError, TransportError
from harness.lab.cost import WindowsCost
from harness.lab.serve import LabServer
from harness.lab.wsman import LabCredentials, ListenerFaults, WSManListener
from harness.probes.protocol import build_script
from harness.transport.endpoint import Endpoint
from harness.transport.psrp import PsrpSession, PsrpUnavailableError, RemoteSession


@pytest.fixture(scope="module")
def lab() -> Iterator[LabServer]:
    with LabServer(speed=50.0) as server:
        yield server


def _endpoint(lab: LabServer, node: str = "HV-A", **settings: Any) -> Endpoint:
    return next(e for e in lab_endpoints(lab, **settings) if e.node == node)


def _wsman(url: str, creds: LabCredentials) -> WSMan:
    parts = urlsplit(url)
    return WSMan(
        "127.0.0.1",
        port=parts.port,
        ssl=False,
        auth="ntlm",
        username=creds.qualified_username,
        password=creds.password,
    )


def test_pypsrp_runs_a_probe_in_a_runspace_pool(lab: LabServer) -> None:
    assert lab.credentials is not None
    with RunspacePool(_wsman(lab.endpoints["HV-B"], lab.credentials)) as pool:
        ps = PowerShell(pool)
        ps.add_script(build_script("host_info", {}))
        output = ps.invoke()
        assert not ps.had_errors
        assert json.loads(output[0])["node"] == "HV-B"
        # A second pipeline in the same pool; a probe that throws fails its pipeline.
        bad = PowerShell(pool)
        bad.add_script(build_script("vm_details", {"vm_id": 7}))
        bad.invoke()
        assert bad.had_errors and "vm_id" in str(bad.streams.error[0])


def test_one_pool_per_node_and_the_modules_imported_once(lab: LabServer) -> None:
    listener = lab.listeners["HV-C"]
    assert listener.psrp is not None
    before = listener.psrp.pools_opened
    with PsrpSession(_endpoint(lab, "HV-C")) as session:
        for _ in range(5):
            result = session.run_script(build_script("host_info", {}), idempotent=True)
            assert result.exit_code == 0 and json.loads(result.stdout)["node"] == "HV-C"
        assert session.pools_opened == 1
    assert listener.psrp.pools_opened == before + 1


def test_the_driver_uses_psrp_by_default_and_reports_probe_failures(lab: LabServer) -> None:
    driver = WinRMDriver(lab_endpoints(lab))
    try:
        assert driver.run_probe("host_info", {}, "HV-B")["node"] == "HV-B"
        with pytest.raises(ProbeFailedError, match="vm_id"):
            driver.run_probe("vm_details", {"vm_id": 7}, "HV-B")
        assert driver.run_probe("host_info", {}, "HV-B")["node"] == "HV-B"
    finally:
        driver.close()


def test_a_broken_runspace_is_reopened_once(lab: LabServer) -> None:
    listener = lab.listeners["HV-A"]
    assert listener.psrp is not None
    with PsrpSession(_endpoint(lab, "HV-A")) as session:
        assert session.run_script(build_script("host_info", {}), idempotent=True).exit_code == 0
        listener.psrp.close()  # the server forgets every pool: the next request faults
        assert session.run_script(build_script("host_info", {}), idempotent=True).exit_code == 0
        assert (session.pools_opened, session.reconnects) == (2, 1)


def test_a_runspace_that_breaks_again_is_a_transport_error(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    faults = ListenerFaults()
    listener = make_listener(faults=faults)
    endpoint = Endpoint(
        "HV-T", "127.0.0.1", listener.port, "http", transport="ntlm",
        username=creds.qualified_username, password=creds.password, retries=0,
    )  # fmt: skip
    with PsrpSession(endpoint) as session:
        assert session.run_script(build_script("host_info", {}), idempotent=True).exit_code == 0
        faults.mode, faults.actions = "close", frozenset({"Command", "Create"})
        with pytest.raises(TransportError, match="runspace broke and reopening it failed"):
            session.run_script(build_script("host_info", {}), idempotent=True)


def test_an_action_is_not_sent_twice_once_its_pipeline_was_accepted(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    faults = ListenerFaults()
    listener = make_listener(faults=faults)
    endpoint = Endpoint(
        "HV-T", "127.0.0.1", listener.port, "http", transport="ntlm",
        username=creds.qualified_username, password=creds.password,
    )  # fmt: skip
    with PsrpSession(endpoint) as session:
        session.open()
        commands = listener.stats.requests
        faults.mode, faults.actions = "close", frozenset({"Receive"})
        with pytest.raises(TransportError, match="not retried"):
            session.run_script(build_script("move_vm", {"vm_names": ["x"], "node": None}))
        # One Command and its Receive; no second Command.
        assert listener.stats.requests - commands <= 3


def test_an_endpoint_without_psrp_falls_back_to_winrs(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    listener = make_listener(psrp=False)
    endpoint = Endpoint(
        "HV-T", "127.0.0.1", listener.port, "http", transport="ntlm",
        username=creds.qualified_username, password=creds.password,
    )  # fmt: skip
    session = RemoteSession(endpoint)
    try:
        assert session.run_script("'x'").exit_code == 0
        assert (session.transport, session.fell_back) == ("winrs", True)
    finally:
        session.close()
    strict = RemoteSession(endpoint, mode="psrp")
    with pytest.raises(PsrpUnavailableError):
        strict.run_script("'x'")
    strict.close()


def test_an_unknown_session_configuration_is_named(lab: LabServer) -> None:
    session = RemoteSession(_endpoint(lab), configuration_name="QMAudit.Nope")
    with pytest.raises(HarnessError, match=r"QMAudit\.Nope.*not registered") as info:
        session.run_script(build_script("host_info", {}), idempotent=True)
    assert not isinstance(info.value, PsrpUnavailableError)  # never a silent WinRS fallback
    session.close()


def test_a_runspace_pays_the_process_start_once(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    cost = WindowsCost(0.4, {"FailoverClusters": 0.2, "Hyper-V": 0.2}, 0.0)
    listener = make_listener(cost=cost, answer=lambda node, script: _ok())
    endpoint = Endpoint(
        "HV-T", "127.0.0.1", listener.port, "http", transport="ntlm",
        username=creds.qualified_username, password=creds.password,
    )  # fmt: skip
    with PsrpSession(endpoint) as session:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            session.run_script(build_script("host_info", {}), idempotent=True)
            times.append(time.perf_counter() - t0)
    assert times[0] >= 0.8  # start + both imports of the set-up pipeline
    assert max(times[1:]) < 0.4  # neither again


def _ok() -> Any:
    from harness.lab.wsman import CommandOutcome

    return CommandOutcome(0, b'{"x":1}\r\n', b"")


def test_pypsrp_against_qmaudit_lab_serve(tmp_path: Path) -> None:
    state = tmp_path / "state"
    exe = Path(sys.executable).with_name("qmaudit")
    proc = subprocess.Popen(
        [str(exe), "lab", "serve", "--speed", "30", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(banner)
        urls = dict(re.findall(r"^\s+(\S+)\s+(http://127\.0\.0\.1:\d+/wsman)", text, re.M))
        creds = LabCredentials.read(state / "credentials.json")
        with RunspacePool(_wsman(urls["HV-A"], creds)) as pool:
            ps = PowerShell(pool)
            ps.add_script(build_script("cluster_inventory", {}))
            doc = json.loads(ps.invoke()[0])
            assert doc["node"] == "HV-A" and not ps.had_errors
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err


def test_runspace_pools_count_against_the_shell_quota(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    from pypsrp.exceptions import WSManFaultError

    listener = make_listener(max_shells_per_user=1)
    first = RunspacePool(_wsman(listener.url, creds))
    first.open()
    try:
        second = RunspacePool(_wsman(listener.url, creds))
        with pytest.raises(WSManFaultError) as info:
            second.open()
        assert info.value.code == 2150859173
    finally:
        first.close()
