"""Fixtures: lab WS-Management listeners with test answers, and sessions pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.lab.wsman import CommandOutcome, LabCredentials, WSManListener
from harness.transport import Endpoint, WinRMSession

Answer = Callable[[str, str], CommandOutcome]


@pytest.fixture
def make_session(creds: LabCredentials) -> Iterator[Callable[..., WinRMSession]]:
    opened: list[WinRMSession] = []

    def make(listener: WSManListener, transport: str = "ntlm", **kwargs: object) -> WinRMSession:
        settings: dict[str, object] = {
            "node": listener.node,
            "host": "127.0.0.1",
            "port": listener.port,
            "scheme": "http",
            "transport": transport,
            "username": creds.qualified_username,
            "password": creds.password,
            "operation_timeout_s": 1,
            "read_timeout_s": 3,
            "connect_timeout_s": 1,
            "retries": 2,
            "backoff_s": 0.05,
        }
        settings.update(kwargs)
        session = WinRMSession(Endpoint(**settings))  # type: ignore[arg-type]
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()
