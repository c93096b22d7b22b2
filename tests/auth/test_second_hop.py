"""The wire's logon sets the lab session: NTLM cannot reach a share (second hop), CredSSP can."""

from __future__ import annotations

from typing import Any

import pytest

from harness.drivers.winrm import WinRMDriver
from harness.lab.clock import ScaledClock
from harness.lab.kdc import LabKdc
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.serve import LabServer
from harness.lab.topology import load_default_topology
from tests.auth.helpers import endpoint

SHARE = "\\\\FS1\\VMs"


def _path_info(transport: str, kdc: LabKdc | None = None, **client: Any) -> dict[str, Any]:
    topology = load_default_topology()
    responder = LabResponder(LabCluster(topology, ScaledClock(speed=20.0)))
    auth = ("ntlm", transport) if transport != "ntlm" else ("ntlm",)
    server = LabServer(topology, responder=responder, auth=auth, https=True, kdc=kdc)
    server.start()
    try:
        driver = WinRMDriver([endpoint(server, "HV-B", transport=transport, **client)])
        try:
            return driver.run_probe("path_info", {"path": SHARE}, "HV-B")
        finally:
            driver.close()
    finally:
        server.stop()


def test_ntlm_sessions_are_refused_the_share() -> None:
    doc = _path_info("ntlm")
    assert doc["access_denied"] is True and doc["exists"] is False


def test_credssp_sessions_reach_the_share() -> None:
    doc = _path_info("credssp")
    assert doc["access_denied"] is False and doc["exists"] is True


@pytest.mark.parametrize("delegation", [False, True])
def test_kerberos_reaches_the_share_only_with_delegation(kdc: LabKdc, delegation: bool) -> None:
    doc = _path_info("kerberos", kdc, kerberos_delegation=delegation)
    assert doc["access_denied"] is not delegation
    assert doc["exists"] is delegation
