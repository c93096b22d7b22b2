"""WinRMSession against a scripted Protocol: reuse, reopen, retries, safety, error mapping."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest
import requests
import winrm.transport
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from harness.errors import (
    AuthenticationError,
    HarnessError,
    TransportError,
    TransportTimeoutError,
)
from harness.transport import Endpoint, WinRMSession
from harness.transport import session as session_mod
from harness.transport.delivery import CMD_MAX_CHARS, bootstrap_text
from tests.transport.fakes import Factory, FakeProtocol, refused, reset

PASSWORD = "Very-Secret-Pw-9"


def _ep(**kw: object) -> Endpoint:
    base: dict[str, object] = {
        "node": "n1",
        "host": "n1.example",
        "username": "admin",
        "password": PASSWORD,
        "retries": 3,
        "backoff_s": 0.5,
    }
    base.update(kw)
    return Endpoint(**base)  # type: ignore[arg-type]


def _session(factory: Factory, sleeps: list[float], **kw: object) -> WinRMSession:
    return WinRMSession(_ep(**kw), protocol_factory=factory, sleep=sleeps.append)


def _fault(code: int, subcode: str = "w:InternalError", http: int = 500) -> WSManFaultError:
    return WSManFaultError(
        http, "Bad HTTP response", "<x/>", "reason text", "s:Receiver", subcode, code
    )


def test_one_shell_reused_and_script_sent_on_stdin_behind_a_fixed_bootstrap() -> None:
    proto = FakeProtocol()
    sleeps: list[float] = []
    s = _session(Factory(proto), sleeps)
    script = "# qmaudit-probe: host_info\n'Zoë'" + "x" * 20000
    for _ in range(3):
        assert s.run_script(script).stdout == '{"ok":true}'
    assert proto.calls.count("open_shell") == 1 and s.shells_opened == 1
    assert proto.calls.count("run_command") == 3 and proto.calls.count("cleanup_command") == 3
    _shell, command, *args = proto.commands[0]
    assert (command, args[:3]) == (
        "powershell",
        ["-NoProfile", "-NonInteractive", "-EncodedCommand"],
    )
    # The command line carries the bootstrap only, whatever the script's length.
    assert base64.b64decode(args[3]).decode("utf-16-le") == bootstrap_text()
    assert len(" ".join([command, *args])) <= CMD_MAX_CHARS
    assert proto.console_mode_stdin == [False] * 3  # a pipe, so that $input reads it
    command_id, payload, end = proto.inputs[0]
    assert command_id == "cmd-1" and end is True
    assert base64.b64decode(payload.strip()).decode("utf-8") == script
    assert proto.calls[:4] == [
        "open_shell",
        "run_command",
        "send_command_input",
        "get_command_output_raw",
    ]
    s.close()
    assert proto.calls[-1] == "close_shell" and proto.transport.closed == 1
    assert sleeps == []


def test_shell_gone_at_send_is_reopened_and_script_resent() -> None:
    proto = FakeProtocol(send_command_input=[_fault(2150858843, "w:InvalidSelectors"), None])
    s = _session(Factory(proto), [])
    assert s.run_script("move", idempotent=False).exit_code == 0
    assert s.shells_opened == 2 and len(proto.inputs) == 2


def test_refused_command_is_retried_even_for_action_probes() -> None:
    # Nothing can have run: the script only starts once the Send that ends stdin is accepted.
    sleeps: list[float] = []
    factory = Factory(FakeProtocol(run_command=[reset()]), FakeProtocol())
    assert _session(factory, sleeps).run_script("move", idempotent=False).exit_code == 0
    assert sleeps == [0.5] and len(factory.made) == 2


def test_send_lost_is_not_retried_for_action_probes() -> None:
    sleeps: list[float] = []
    factory = Factory(FakeProtocol(send_command_input=[reset()]), FakeProtocol())
    with pytest.raises(TransportError, match="may already have run"):
        _session(factory, sleeps).run_script("move", idempotent=False)
    assert sleeps == []


def test_send_lost_is_retried_for_read_probes_in_a_new_shell() -> None:
    sleeps: list[float] = []
    second = FakeProtocol()
    factory = Factory(FakeProtocol(send_command_input=[reset()]), second)
    assert _session(factory, sleeps).run_script("read", idempotent=True).exit_code == 0
    assert sleeps == [0.5] and second.calls.count("open_shell") == 1


def test_stderr_clixml_decoded_and_exit_code_kept() -> None:
    err = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1" '
        b'xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<S S="Error">boom_x000D__x000A_</S></Objs>'
    )
    proto = FakeProtocol(get_command_output_raw=[(b"", err, 1, True)])
    result = _session(Factory(proto), []).run_script("x")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "boom")


def test_shell_gone_is_reopened_once_and_command_resent() -> None:
    proto = FakeProtocol(run_command=[_fault(2150858843, "w:InvalidSelectors"), "cmd-2"])
    s = _session(Factory(proto), [])
    assert s.run_script("x").exit_code == 0
    assert s.shells_opened == 2 and proto.calls.count("run_command") == 2
    assert [c[0] for c in proto.commands] == ["shell-0", "shell-1"]


def test_shell_reopened_after_first_use_when_gone() -> None:
    proto = FakeProtocol(run_command=["c1", _fault(2150858843, "w:InvalidSelectors"), "c2"])
    s = _session(Factory(proto), [])
    s.run_script("a")
    s.run_script("b")
    assert s.shells_opened == 2
    assert [c[0] for c in proto.commands] == ["shell-0", "shell-0", "shell-1"]


def test_shell_gone_twice_is_an_error() -> None:
    gone = _fault(2150858843, "w:InvalidSelectors")
    proto = FakeProtocol(run_command=[gone, gone])
    with pytest.raises(TransportError, match="2150858843"):
        _session(Factory(proto), []).run_script("x")


def test_wrong_password_is_authentication_error_without_retry() -> None:
    sleeps: list[float] = []
    factory = Factory(FakeProtocol(open_shell=[InvalidCredentialsError("rejected")]))
    with pytest.raises(AuthenticationError) as info:
        _session(factory, sleeps).run_script("x")
    assert sleeps == [] and len(factory.made) == 1
    assert "n1" in str(info.value) and "https://n1.example:5986/wsman" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_access_denied_fault_is_authentication_error() -> None:
    proto = FakeProtocol(open_shell=[_fault(5, "w:AccessDenied")])
    with pytest.raises(AuthenticationError):
        _session(Factory(proto), []).run_script("x")


def test_endpoint_down_retried_with_backoff_then_transport_error() -> None:
    sleeps: list[float] = []
    factory = Factory(*[FakeProtocol(open_shell=[refused()]) for _ in range(4)])
    with pytest.raises(TransportError) as info:
        _session(factory, sleeps).run_script("x")
    assert not isinstance(info.value, AuthenticationError)
    assert sleeps == [0.5, 1.0, 2.0]
    assert "after 4 attempts" in str(info.value) and len(factory.made) == 4


def test_transient_failure_then_success() -> None:
    sleeps: list[float] = []
    factory = Factory(FakeProtocol(open_shell=[refused()]), FakeProtocol())
    assert _session(factory, sleeps).run_script("x").exit_code == 0
    assert sleeps == [0.5]


def test_reset_after_command_accepted_not_retried_for_actions() -> None:
    sleeps: list[float] = []
    proto = FakeProtocol(get_command_output_raw=[reset()])
    with pytest.raises(TransportError, match="may already have run") as info:
        _session(Factory(proto), sleeps).run_script("move")
    assert sleeps == [] and proto.calls.count("run_command") == 1
    assert not isinstance(info.value, TransportTimeoutError)


def test_reset_after_command_accepted_retried_for_read_probes_in_a_new_shell() -> None:
    sleeps: list[float] = []
    first = FakeProtocol(get_command_output_raw=[reset()])
    second = FakeProtocol()
    s = _session(Factory(first, second), sleeps)
    assert s.run_script("read", idempotent=True).exit_code == 0
    assert sleeps == [0.5] and second.calls.count("open_shell") == 1


def test_command_refused_with_5xx_or_operation_timeout_is_retried_even_for_actions() -> None:
    sleeps: list[float] = []
    proto = FakeProtocol(
        run_command=[WinRMTransportError("http", 503, ""), WinRMOperationTimeoutError(), "c"]
    )
    assert _session(Factory(proto), sleeps).run_script("move").exit_code == 0
    assert sleeps == [0.5, 1.0] and proto.calls.count("run_command") == 3


def test_persistent_5xx_becomes_transport_error() -> None:
    sleeps: list[float] = []
    proto = FakeProtocol(run_command=[WinRMTransportError("http", 500, "oops")] * 5)
    with pytest.raises(TransportError, match="HTTP 500"):
        _session(Factory(proto), sleeps, retries=2).run_script("x")
    assert sleeps == [0.5, 1.0]


def test_read_timeout_is_timeout_error_without_retry() -> None:
    sleeps: list[float] = []
    proto = FakeProtocol(open_shell=[requests.ReadTimeout("read timed out")])
    with pytest.raises(TransportTimeoutError):
        _session(Factory(proto), sleeps).run_script("x")
    assert sleeps == []


def test_tls_failure_names_ca_bundle_option() -> None:
    proto = FakeProtocol(open_shell=[requests.exceptions.SSLError("certificate verify failed")])
    with pytest.raises(TransportError, match="ca_bundle"):
        _session(Factory(proto), []).run_script("x")


@pytest.mark.parametrize(
    "exc",
    [ET.ParseError("not well-formed"), StopIteration(), ValueError("invalid literal for int")],
)
def test_malformed_responses_are_transport_errors(exc: BaseException) -> None:
    sleeps: list[float] = []
    with pytest.raises(TransportError, match="malformed WS-Management response"):
        _session(Factory(FakeProtocol(open_shell=[exc])), sleeps).run_script("x")
    assert sleeps == []


def test_unknown_library_errors_name_their_class_and_never_the_password() -> None:
    proto = FakeProtocol(open_shell=[RuntimeError(f"weird {PASSWORD}")])
    with pytest.raises(TransportError) as info:
        _session(Factory(proto), []).run_script("x")
    assert "RuntimeError" in str(info.value) and PASSWORD not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_receive_polls_through_operation_timeouts() -> None:
    proto = FakeProtocol(
        get_command_output_raw=[
            WinRMOperationTimeoutError(),
            (b'{"a":', b"", -1, False),
            WinRMOperationTimeoutError(),
            (b"1}", b"", 0, True),
        ]
    )
    assert _session(Factory(proto), []).run_script("x").stdout == '{"a":1}'


def test_command_deadline_bounds_a_never_ending_command() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 10
        return now[0]

    proto = FakeProtocol(get_command_output_raw=[WinRMOperationTimeoutError()] * 100)
    s = WinRMSession(_ep(), protocol_factory=Factory(proto), clock=clock, command_timeout_s=25)
    with pytest.raises(TransportTimeoutError, match="still running"):
        s.run_script("x")
    assert proto.calls.count("get_command_output_raw") < 10


def test_close_never_raises() -> None:
    proto = FakeProtocol(close_shell=[reset()])
    s = _session(Factory(proto), [])
    s.run_script("x")
    s.close()
    s.close()
    assert proto.transport.closed == 1


def test_missing_kerberos_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    s = WinRMSession(_ep(transport="kerberos", username=None, password=None))
    with pytest.raises(HarnessError, match=r"qmaudit\[kerberos\]"):
        s.run_script("x")


def test_missing_credssp_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm.transport, "HAVE_CREDSSP", False)
    with pytest.raises(HarnessError, match=r"qmaudit\[credssp\]"):
        WinRMSession(_ep(transport="credssp")).run_script("x")


def test_make_protocol_settings(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proto = session_mod.make_protocol(
        _ep(operation_timeout_s=2, read_timeout_s=2.5, connect_timeout_s=1.5)
    )
    assert proto.operation_timeout_sec == 2
    assert proto.transport.read_timeout_sec == (1.5, 2.5)
    assert proto.transport.server_cert_validation == "validate"
    assert proto.transport.endpoint == "https://n1.example:5986/wsman"
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(session_mod, "_insecure_warned", False)
    insecure = session_mod.make_protocol(_ep(verify_tls=False))
    session_mod.make_protocol(_ep(verify_tls=False, node="n2"))
    assert insecure.transport.server_cert_validation == "ignore"
    err = capsys.readouterr().err
    assert err.count("verification is OFF") == 1 and PASSWORD not in err
