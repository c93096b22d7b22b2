"""Lab servers that answer with the session's logon, and clients for them (auth tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.lab.logon import current_logon
from harness.lab.serve import LabServer
from harness.lab.wsman import CommandOutcome
from harness.transport.endpoint import Endpoint
from harness.transport.session import WinRMSession


def logon_answer(node: str, script: str) -> CommandOutcome:
    """Whatever the script, print who the session is (the lab's logon for this command)."""
    logon = current_logon()
    doc = {
        "node": node,
        "user": logon.user if logon else None,
        "method": logon.method if logon else None,
        "network_credentials": logon.network_credentials if logon else None,
    }
    return CommandOutcome(0, (json.dumps(doc) + "\r\n").encode(), b"")


@contextmanager
def served(**options: Any) -> Iterator[LabServer]:
    """A started LabServer answering with logon_answer; stopped afterwards."""
    server = LabServer(answer=logon_answer, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def endpoint(server: LabServer, node: str = "HV-A", **overrides: Any) -> Endpoint:
    """The client settings for `node` of `server`: its scheme, CA, credentials."""
    creds = server.credentials
    assert creds is not None
    listener = server.listeners[node]
    kerberos = overrides.get("transport") == "kerberos"
    values: dict[str, Any] = {
        "node": node,
        "host": "127.0.0.1",
        "port": listener.port,
        "scheme": listener.scheme,
        "transport": "ntlm",
        "username": (server.kerberos_principal if kerberos else None) or creds.qualified_username,
        "password": creds.password,
        "ca_bundle": str(server.ca_path) if server.ca_path else None,
        "kerberos_hostname": server.service_host(node) if kerberos else None,
        "retries": 0,
    }
    values.update(overrides)
    return Endpoint(**values)


def whoami(ep: Endpoint) -> dict[str, Any]:
    """Run a command through the harness's WinRM session; the logon the lab saw."""
    with WinRMSession(ep) as session:
        result = session.run_script("whoami")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc
