"""The lab's optional per-command start cost (powershell.exe start on Windows): off by default."""

from __future__ import annotations

import time
from collections.abc import Callable

import winrm

from harness.lab.wsman import LabCredentials, WSManListener


def _timed_run(listener: WSManListener, creds: LabCredentials) -> float:
    s = winrm.Session(
        listener.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    t0 = time.perf_counter()
    assert s.run_ps("'x'").status_code == 0
    return time.perf_counter() - t0


def test_start_cost_delays_every_command(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    assert _timed_run(make_listener(command_start_s=0.4), creds) >= 0.4


def test_a_refused_command_line_costs_no_start(
    make_listener: Callable[..., WSManListener], creds: LabCredentials
) -> None:
    # cmd.exe refuses the line before any powershell.exe starts.
    listener = make_listener(command_start_s=5.0)
    s = winrm.Session(
        listener.url, auth=(creds.qualified_username, creds.password), transport="ntlm"
    )
    t0 = time.perf_counter()
    assert s.run_ps("'" + "x" * 6000 + "'").status_code == 1
    assert time.perf_counter() - t0 < 4.0
