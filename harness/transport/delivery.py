"""ScriptDelivery: how a script reaches powershell.exe on a node (fixed bootstrap + stdin)."""

from __future__ import annotations

from base64 import b64encode
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# cmd.exe refuses longer command lines with "The command line is too long." (exit code 1), and
# a WinRS command runs through cmd.exe unless WINRS_SKIP_CMD_SHELL is set.
CMD_MAX_CHARS = 8191
BOOTSTRAP_FILE = Path(__file__).resolve().parent.parent / "probes" / "lib" / "bootstrap.ps1"
EXECUTABLE = "powershell"
_OPTIONS = ("-NoProfile", "-NonInteractive", "-EncodedCommand")


@cache
def bootstrap_text() -> str:
    """The bootstrap as sent: harness/probes/lib/bootstrap.ps1 without its comment lines."""
    lines = BOOTSTRAP_FILE.read_text(encoding="utf-8").splitlines()
    # Comments would only lengthen the command line (UTF-16 then base64: 8/3 chars each).
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def encode_command(script: str) -> str:
    """The -EncodedCommand value of a script: base64 of its UTF-16LE text."""
    return b64encode(script.encode("utf-16-le")).decode("ascii")


@dataclass(frozen=True)
class ScriptDelivery:
    """A script split into a short fixed command line and the stdin payload that carries it."""

    command: str
    arguments: tuple[str, ...]
    stdin: bytes

    @classmethod
    def of(cls, script: str) -> ScriptDelivery:
        """Bootstrap on the command line; the script as one base64 line of UTF-8 on stdin."""
        arguments = (*_OPTIONS, encode_command(bootstrap_text()))
        # Base64 keeps stdin ASCII, so the console code page cannot alter non-ASCII names.
        payload = b64encode(script.encode("utf-8")) + b"\r\n"
        return cls(EXECUTABLE, arguments, payload)

    @property
    def command_line(self) -> str:
        """The WinRS command line as cmd.exe sees it (command and arguments, space-joined)."""
        return " ".join((self.command, *self.arguments))
