"""A WinRM session wrapper that keeps the last raw result, so a capture stores what Windows said."""

from __future__ import annotations

from typing import Any

from harness.transport.endpoint import Endpoint
from harness.transport.session import ScriptResult, WinRMSession


class RecordingSession:
    """Delegates to a WinRMSession; `last` is the ScriptResult of the latest script, if any."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._inner = WinRMSession(endpoint)
        self.endpoint = endpoint
        self.last: ScriptResult | None = None

    def run_script(self, text: str, *args: Any, **kwargs: Any) -> ScriptResult:
        """Run the script through the real session and remember its raw result."""
        self.last = None
        result = self._inner.run_script(text, *args, **kwargs)
        self.last = result
        return result

    def close(self) -> None:
        """Close the real session."""
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else the driver asks of a session is the real session's business.
        return getattr(self._inner, name)
