"""A scripted stand-in for pywinrm's Protocol, for session tests without a network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
import urllib3.exceptions

Step = BaseException | Callable[[], Any] | Any


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port."""
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/wsman", reason))  # type: ignore[arg-type]


def reset() -> requests.ConnectionError:
    """A connection reset after the request was sent."""
    reason = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "reset")
    )
    return requests.ConnectionError(reason)


class FakeTransport:
    def __init__(self) -> None:
        self.closed = 0

    def close_session(self) -> None:
        self.closed += 1


class FakeProtocol:
    """Each method pops its next scripted step: an exception to raise or a value to return."""

    def __init__(self, **steps: list[Step]) -> None:
        self.steps = {name: list(value) for name, value in steps.items()}
        self.calls: list[str] = []
        self.commands: list[list[str]] = []
        self.console_mode_stdin: list[bool] = []
        self.inputs: list[tuple[str, bytes, bool]] = []
        self.transport = FakeTransport()

    def _step(self, name: str, default: Any) -> Any:
        self.calls.append(name)
        queue = self.steps.get(name)
        step = queue.pop(0) if queue else default
        if isinstance(step, BaseException):
            raise step
        return step() if callable(step) else step

    def open_shell(self, **_: Any) -> str:
        return str(self._step("open_shell", f"shell-{self.calls.count('open_shell')}"))

    def run_command(
        self, shell_id: str, command: str, args: list[str], console_mode_stdin: bool = True
    ) -> str:
        self.commands.append([shell_id, command, *args])
        self.console_mode_stdin.append(console_mode_stdin)
        return str(self._step("run_command", "cmd-1"))

    def send_command_input(
        self, shell_id: str, command_id: str, stdin_input: bytes, end: bool = False
    ) -> None:
        self.inputs.append((command_id, stdin_input, end))
        self._step("send_command_input", None)

    def get_command_output_raw(self, shell_id: str, command_id: str) -> Any:
        return self._step("get_command_output_raw", (b'{"ok":true}', b"", 0, True))

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        self._step("cleanup_command", None)

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        self._step("close_shell", None)


class Factory:
    """Hands out FakeProtocols in order (a reconnect asks for a new one)."""

    def __init__(self, *protocols: FakeProtocol) -> None:
        self.protocols = list(protocols)
        self.made: list[FakeProtocol] = []

    def __call__(self, endpoint: object) -> FakeProtocol:
        proto = self.protocols.pop(0) if self.protocols else FakeProtocol()
        self.made.append(proto)
        return proto
