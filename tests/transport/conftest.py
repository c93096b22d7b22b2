"""Fixtures: lab WS-Management listeners with test answers, and sessions pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.lab.wsman import CommandOutcome, LabCredentials, NtlmUserStore, WSManListener
from harness.transport import Endpoint, WinRMSession

Answer = Callable[[str, str], CommandOutcome]


@pytest.fixture
def creds() -> Iterator[LabCredentials]:
    credentials = LabCredentials.generate()
    NtlmUserStore.register(credentials)
    yield credentials
    NtlmUserStore.unregister(credentials)


@pytest.fixture
def make_listener(creds: LabCredentials) -> Iterator[Callable[..., WSManListener]]:
    started: list[WSManListener] = []

    def make(answer: Answer, **kwargs: object) -> WSManListener:
        listener = WSManListener("HV-T", answer, creds, **kwargs)  # type: ignore[arg-type]
        started.append(listener.start())
        return listener

    yield make
    for listener in started:
        listener.stop()


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
