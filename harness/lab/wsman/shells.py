"""Remote shells and their commands: command-line decoding, worker threads, output cursors."""

from __future__ import annotations

import base64
import binascii
import ntpath
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.lab.cost import WindowsCost
from harness.lab.logon import Logon, current_logon, logon_scope
from harness.lab.wsman.clixml import plain_stderr, throw_stderr
from harness.lab.wsman.soap import new_uuid
from harness.probes.commands import modules_in
from harness.transport.delivery import CMD_MAX_CHARS, bootstrap_text

CHUNK_BYTES = 48 * 1024  # per stream per Receive: keeps replies under Windows' 150 KiB envelope

_POWERSHELL = {"powershell", "powershell.exe"}
_FLAGS = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")
_VALUED = ("executionpolicy", "outputformat", "inputformat", "windowstyle", "version", "ep")
_NOT_RECOGNIZED = (
    "'{name}' is not recognized as an internal or external command,\r\n"
    "operable program or batch file."
)
# What cmd.exe prints (to stderr, exit code 1) for a command line over CMD_MAX_CHARS.
TOO_LONG = "The command line is too long."
# [Convert]::FromBase64String's exception, as the bootstrap reports it when stdin is not base64.
_BAD_BASE64 = (
    'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid '
    "Base-64 string as it contains a non-base 64 character, more than two padding characters, "
    'or an illegal character among the padding characters. "'
)
_BAD_ENCODING = (
    "Cannot process the command because the value specified with -EncodedCommand is not "
    "properly encoded. The value must be Base64 encoded."
)


@dataclass(frozen=True)
class CommandOutcome:
    """What a command produced: exit code and raw stdout/stderr bytes."""

    exit_code: int
    stdout: bytes
    stderr: bytes


Answer = Callable[[str, str], CommandOutcome]


class CommandLineError(Exception):
    """The command line is not a PowerShell -EncodedCommand invocation this lab can run."""

    def __init__(self, outcome: CommandOutcome) -> None:
        super().__init__(outcome.stderr.decode("utf-8", "replace"))
        self.outcome = outcome


def _is_encoded_command(option: str) -> bool:
    # powershell.exe accepts -e, -ec and every unambiguous prefix of -EncodedCommand.
    return option in ("e", "ec") or (len(option) >= 2 and "encodedcommand".startswith(option))


def _matches(option: str, names: tuple[str, ...]) -> bool:
    return any(name.startswith(option) for name in names) and len(option) >= 2


def decode_command_line(args: list[str]) -> str:
    """The script text of `powershell[.exe] [options] -EncodedCommand <base64 UTF-16LE>`."""
    if not args:
        raise CommandLineError(
            CommandOutcome(1, b"", plain_stderr("The syntax of the command is incorrect."))
        )
    exe = ntpath.basename(args[0].strip('"')).lower()
    if exe not in _POWERSHELL:
        message = _NOT_RECOGNIZED.format(name=args[0])
        raise CommandLineError(CommandOutcome(1, b"", plain_stderr(message)))
    rest = args[1:]
    i = 0
    while i < len(rest):
        token = rest[i]
        if token[:1] not in ("-", "/"):
            break
        option = token.lstrip("-/").lower()
        if _is_encoded_command(option):
            if i + 1 >= len(rest):
                break
            try:
                raw = base64.b64decode(rest[i + 1], validate=True)
                return raw.decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                raise CommandLineError(
                    CommandOutcome(1, b"", plain_stderr(_BAD_ENCODING))
                ) from None
        if _matches(option, _FLAGS):
            i += 1
        elif _matches(option, _VALUED):
            i += 2
        else:
            break
    message = (
        "This lab endpoint runs only qmaudit probes sent as "
        "'powershell -EncodedCommand <base64 UTF-16LE>'; got: " + " ".join(args)[:200]
    )
    raise CommandLineError(CommandOutcome(1, b"", plain_stderr(message)))


def script_from_stdin(data: bytes) -> str | CommandOutcome:
    """What the stdin bootstrap runs: `-join @($input)` (lines without their ends), base64, UTF-8.

    An outcome instead of a script when the bootstrap itself fails or has nothing to run.
    """
    joined = b"".join(data.splitlines()).decode("ascii", "replace")
    try:
        # FromBase64String skips white space inside the text, as b64decode does not.
        raw = base64.b64decode("".join(joined.split()), validate=True)
    except (binascii.Error, ValueError):
        return CommandOutcome(1, b"", throw_stderr(_BAD_BASE64, bootstrap_text()))
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        return CommandOutcome(0, b"", b"")  # an empty script block runs and writes nothing
    return text


@dataclass
class Command:
    """One command: the worker that computes its outcome and what Receive has delivered."""

    id: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: CommandOutcome | None = None
    sent_out: int = 0
    sent_err: int = 0
    thread: threading.Thread | None = None
    created: float = field(default_factory=time.monotonic)  # when the process would start
    reads_stdin: bool = False  # the stdin bootstrap: runs what arrives once stdin ends
    stdin: bytearray = field(default_factory=bytearray)
    stdin_ended: bool = False

    def finish(self, outcome: CommandOutcome) -> None:
        self.outcome = outcome
        self.done.set()

    def next_chunk(self) -> tuple[bytes, bytes, bool]:
        """The next slice of stdout and stderr, and whether everything has now been sent."""
        assert self.outcome is not None
        out = self.outcome.stdout[self.sent_out : self.sent_out + CHUNK_BYTES]
        err = self.outcome.stderr[self.sent_err : self.sent_err + CHUNK_BYTES]
        self.sent_out += len(out)
        self.sent_err += len(err)
        finished = self.sent_out >= len(self.outcome.stdout) and self.sent_err >= len(
            self.outcome.stderr
        )
        return out, err, finished


@dataclass
class Shell:
    """A cmd shell (WinRS) with the commands it has started and not yet forgotten."""

    id: str
    owner: str
    commands: dict[str, Command] = field(default_factory=dict)


class ShellStore:
    """The shells of one listener; every method is thread-safe."""

    def __init__(
        self,
        node: str,
        answer: Answer,
        start_cost_s: float = 0.0,
        cost: WindowsCost | None = None,
    ) -> None:
        self.node = node
        self.answer = answer
        # What a WinRS command costs on Windows: a new powershell.exe, the modules the script
        # imports, its command (harness/lab/cost.py). `start_cost_s` alone: the start only.
        self.cost = cost if cost is not None else WindowsCost(process_start_s=start_cost_s)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}
        self._workers: list[threading.Thread] = []

    def create(self, owner: str) -> Shell:
        shell = Shell(new_uuid(), owner)
        with self._lock:
            self._shells[shell.id] = shell
        return shell

    def count(self, owner: str) -> int:
        """How many shells `owner` has open (the per-user shell quota counts these)."""
        with self._lock:
            return sum(1 for shell in self._shells.values() if shell.owner == owner)

    def ids(self) -> list[str]:
        """The ids of the open shells (the idle-shell reaper walks these)."""
        with self._lock:
            return list(self._shells)

    def get(self, shell_id: str) -> Shell | None:
        with self._lock:
            return self._shells.get(shell_id.upper())

    def delete(self, shell_id: str) -> bool:
        with self._lock:
            shell = self._shells.pop(shell_id.upper(), None)
        if shell is None:
            return False
        for command in shell.commands.values():
            command.done.set()  # wakes a Receive still waiting on this shell
        return True

    def start(
        self,
        shell: Shell,
        args: list[str],
        command_id: str | None = None,
        *,
        command_line: str | None = None,
        via_cmd: bool = True,
    ) -> Command:
        """Check and decode the command line; run it now, or once stdin ends (the bootstrap)."""
        command = Command((command_id or new_uuid()).upper())
        with self._lock:
            shell.commands[command.id] = command
        line = command_line if command_line is not None else " ".join(args)
        if via_cmd and len(line) > CMD_MAX_CHARS:
            command.finish(CommandOutcome(1, b"", plain_stderr(TOO_LONG)))
            return command
        try:
            script = decode_command_line(args)
        except CommandLineError as exc:
            command.finish(exc.outcome)
            return command
        if script == bootstrap_text():
            command.reads_stdin = True
            return command
        self._launch(command, script)
        return command

    def feed(self, command: Command, data: bytes, end: bool) -> None:
        """Input for a command's stdin; a command that reads none drops it, like a closed pipe."""
        with self._lock:
            if not command.reads_stdin or command.stdin_ended:
                return
            command.stdin.extend(data)
            if not end:
                return
            command.stdin_ended = True
            payload = bytes(command.stdin)
        script = script_from_stdin(payload)
        if isinstance(script, CommandOutcome):
            command.finish(script)
        else:
            self._launch(command, script)

    def _launch(self, command: Command, script: str) -> None:
        # The command runs as the logon of the connection that started it (second-hop model).
        logon = current_logon()
        worker = threading.Thread(
            target=self._run,
            args=(command, script, logon),
            name=f"wsman-{self.node}-cmd",
            daemon=True,
        )
        command.thread = worker
        with self._lock:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def _run(self, command: Command, script: str, logon: Logon | None = None) -> None:
        # The process started when the Command arrived; stdin may have come while it loaded.
        cost_s = self.cost.process_s(modules_in(script)) if self.cost.enabled else 0.0
        self._closing.wait(max(0.0, command.created + cost_s - time.monotonic()))
        try:
            with logon_scope(logon):
                outcome = self.answer(self.node, script)
        except Exception as exc:
            # The answer function failing is what a probe throwing looks like from the client.
            outcome = CommandOutcome(1, b"", throw_stderr(str(exc) or type(exc).__name__, script))
        command.finish(outcome)

    def reopen(self) -> None:
        """Serve again after close() (a listener restarted on the same store)."""
        self._closing.clear()

    def close(self, timeout: float = 2.0) -> None:
        """Forget every shell, wake waiting receivers and give workers a moment to end."""
        self._closing.set()
        with self._lock:
            shells = list(self._shells)
            workers = list(self._workers)
        for shell_id in shells:
            self.delete(shell_id)
        for worker in workers:
            worker.join(timeout)
