"""The project's exception hierarchy, rooted at HarnessError."""

from __future__ import annotations

from harness.redact import redact, scrub


class HarnessError(Exception):
    """Evidence could not be gathered or the harness could not do its job (Allure: broken)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)


def plain_message(text: str) -> str:
    """`text` without leading "qmaudit:" / "error:" labels: the caller adds its own, once."""
    stripped = text.strip()
    while True:
        head = stripped.split(":", 1)[0].strip().casefold()
        if head not in ("qmaudit", "error") or ":" not in stripped:
            return stripped
        stripped = stripped.split(":", 1)[1].strip()


class ThinEvidenceError(HarnessError):
    """Too little was observed to judge a claim either way (sparse polls, tiny signal): broken."""


class InputError(HarnessError):
    """A file or argument given by the user is invalid: names the source, place and reason."""

    exit_code = 2

    def __init__(self, source: str, location: str, reason: str, *, scrubbed: bool = True) -> None:
        if scrubbed:  # never quote a credential or secret-looking value of the file back
            location, reason = scrub(source, location), scrub(source, reason)
        self.source = source
        self.location = location
        self.reason = reason
        where = f"{source}: {location}" if location else source
        super().__init__(f"{where}: {reason}")


class TransportError(HarnessError):
    """The target could not be reached or answered at the transport level."""

    def __init__(self, endpoint: str, detail: str) -> None:
        self.endpoint = redact(endpoint)
        self.detail = redact(detail)
        super().__init__(f"transport error talking to {self.endpoint}: {self.detail}")


class AuthenticationError(TransportError):
    """The target refused the credentials. Never retried."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__(endpoint, detail)
        self.message = redact(f"authentication failed at {self.endpoint}: {self.detail}")
        self.args = (self.message,)


class TransportTimeoutError(TransportError):
    """The target did not answer within the configured timeouts."""


class ProbeFailedError(HarnessError):
    """A probe ran but failed on the target (non-zero exit); carries the target's message."""

    def __init__(self, probe: str, node: str, target_message: str, exit_code: int = 1) -> None:
        self.probe = probe
        self.node = node
        self.target_message = redact(target_message)
        self.probe_exit_code = exit_code
        super().__init__(f"probe {probe!r} failed on {node}: {self.target_message}")


class ProbeOutputError(HarnessError):
    """A probe's output was not one valid JSON document matching the probe's schema."""

    def __init__(self, probe: str, json_path: str, reason: str, node: str | None = None) -> None:
        self.probe = probe
        self.json_path = json_path
        self.reason = redact(reason)
        self.node = node
        where = f" on {node}" if node else ""
        super().__init__(
            f"probe {probe!r} returned invalid output{where} at {json_path}: {self.reason}"
        )


class LabOperationError(HarnessError):
    """The lab cluster refused an operation the way a real cluster would (e.g. Win32 error 5042)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"{message} (Win32 error {code})")
