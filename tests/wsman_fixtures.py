"""Shared test fixtures: lab credentials and WS-Management listeners started with a test answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.lab.wsman import CommandOutcome, LabCredentials, NtlmUserStore, WSManListener
from harness.lab.wsman.server import PERMISSIVE_AUTH

# A listener that also accepts Basic and unencrypted messages: an explicit opt-in, since a default
# Windows WinRM service (and so the lab, by default) refuses both.
PERMISSIVE: dict[str, object] = {"auth": PERMISSIVE_AUTH, "allow_unencrypted": True}


def echo_answer(node: str, script: str) -> CommandOutcome:
    """Echo the node and the decoded script, so a test sees what reached the server."""
    return CommandOutcome(0, f"{node}|{script}".encode(), b"")


@pytest.fixture
def creds() -> Iterator[LabCredentials]:
    credentials = LabCredentials.generate()
    NtlmUserStore.register(credentials)
    yield credentials
    NtlmUserStore.unregister(credentials)


@pytest.fixture
def make_listener(
    creds: LabCredentials,
) -> Iterator[Callable[..., WSManListener]]:
    """Start listeners for node HV-T (answer defaults to echo_answer); all stopped afterwards."""
    started: list[WSManListener] = []

    def make(
        answer: Callable[[str, str], CommandOutcome] = echo_answer, **kwargs: object
    ) -> WSManListener:
        listener = WSManListener("HV-T", answer, creds, **kwargs)  # type: ignore[arg-type]
        started.append(listener.start())
        return listener

    yield make
    for listener in started:
        listener.stop()
