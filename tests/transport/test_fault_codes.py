"""WinRM fault codes as Windows sends them, and what the session does with each."""

from __future__ import annotations

import pytest
from winrm.exceptions import WSManFaultError

from harness.errors import TransportError, TransportTimeoutError
from harness.transport import Endpoint, WinRMSession
from harness.transport.faults import classify
from tests.transport.fakes import Factory, FakeProtocol


def _fault(code: int, subcode: str = "w:InternalError") -> WSManFaultError:
    return WSManFaultError(500, "Bad HTTP response", "<x/>", "reason", "s:Sender", subcode, code)


def _session(proto: FakeProtocol, sleeps: list[float]) -> WinRMSession:
    endpoint = Endpoint(node="n1", host="n1.example", username="u", password="p", backoff_s=0.5)
    return WinRMSession(endpoint, protocol_factory=Factory(proto), sleep=sleeps.append)


@pytest.mark.parametrize(
    ("code", "kind", "shell_gone", "transient"),
    [
        (2150858843, TransportError, True, False),  # ERROR_WSMAN_UNEXPECTED_SELECTORS: shell gone
        (2150858754, TransportError, False, False),  # ERROR_WSMAN_INVALID_URI: a bad request
        (2150858793, TransportTimeoutError, False, True),  # ERROR_WSMAN_OPERATION_TIMEDOUT
        (2150859173, TransportError, True, True),  # ERROR_WSMAN_QUOTA_MAX_SHELLS
        (2150859174, TransportError, True, True),  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS
        (2147943418, TransportError, True, False),  # ERROR_KEY_DELETED (WinRb resets the shell)
    ],
)
def test_fault_code_classification(
    code: int, kind: type[TransportError], shell_gone: bool, transient: bool
) -> None:
    fault = classify(_fault(code))
    assert (fault.kind, fault.shell_gone, fault.transient, fault.answered) == (
        kind,
        shell_gone,
        transient,
        True,
    )
    assert str(code) in fault.detail


def test_invalid_uri_is_not_mistaken_for_a_lost_shell() -> None:
    # 2150858754 is ERROR_WSMAN_INVALID_URI: reopening the shell and resending cannot help.
    proto = FakeProtocol(run_command=[_fault(2150858754, "w:DestinationUnreachable"), "c2"])
    with pytest.raises(TransportError, match="2150858754"):
        _session(proto, []).run_script("x")
    assert proto.calls.count("open_shell") == 1 and proto.calls.count("run_command") == 1


def test_operation_quota_at_command_deletes_the_shell_and_resends_in_a_new_one() -> None:
    proto = FakeProtocol(run_command=[_fault(2150859174, "w:QuotaLimit"), "c2"])
    sleeps: list[float] = []
    s = _session(proto, sleeps)
    assert s.run_script("move", idempotent=False).exit_code == 0
    assert s.shells_opened == 2 and sleeps == []
    # The refused shell is deleted first, so that it stops counting against the quota.
    assert proto.calls[:4] == ["open_shell", "run_command", "close_shell", "open_shell"]


def test_shell_quota_at_create_is_retried_after_a_backoff() -> None:
    proto = FakeProtocol(open_shell=[_fault(2150859173, "w:QuotaLimit"), "shell-x"])
    sleeps: list[float] = []
    assert _session(proto, sleeps).run_script("x").exit_code == 0
    assert sleeps == [0.5] and proto.calls.count("open_shell") == 2


def test_shell_quota_that_persists_ends_in_a_clear_error() -> None:
    proto = FakeProtocol(open_shell=[_fault(2150859173, "w:QuotaLimit")] * 10)
    sleeps: list[float] = []
    with pytest.raises(TransportError, match=r"2150859173.*after 4 attempts"):
        _session(proto, sleeps).run_script("x")
    assert len(sleeps) == 3
