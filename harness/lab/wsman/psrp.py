"""The lab's PowerShell remoting endpoint: runspace pools over WS-Management (psrpcore's server).

A client (pypsrp's RunspacePool, or PowerShell's New-PSSession) creates a shell whose resource
URI names a session configuration (http://schemas.microsoft.com/powershell/Microsoft.PowerShell
or a JEA configuration); the PSRP messages travel base64 in creationXml, Command arguments,
Send and Receive streams (MS-PSRP 3.1.5.3). psrpcore decodes and encodes them; this module does
the WS-Management side and runs each pipeline in the lab's model, like a WinRS command:

- a pipeline whose script is a qmaudit probe is answered by the lab (the same answer function
  as WinRS), its JSON text written as one output string; a probe that throws fails the
  pipeline with the error record PowerShell sends for a terminating error;
- the runspace set-up script (harness/probes/lib/runspace.ps1) imports the modules once;
- a configuration with a role (JEA) refuses a probe that uses a command outside it with the
  error PowerShell gives for an unknown command;
- Windows' real-time costs (harness/lab/cost.py): the pool opening pays a process start, each
  pipeline a command, and a module's first import in the pool its import.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psrpcore
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    RunspacePoolState,
)

from harness.lab.cost import OFF, RunspaceCost, WindowsCost
from harness.lab.logon import Logon, current_logon, logon_scope
from harness.lab.wsman import soap
from harness.lab.wsman.shells import Answer
from harness.lab.wsman.soap import NS, SoapFault, WSManRequest
from harness.probes.commands import modules_in
from harness.transport.clixml import decode_clixml, error_message

PSRP_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
PS_NS = "http://schemas.microsoft.com/powershell"
# Bytes of PSRP fragments per Receive: the reply stays under Windows' 150 KiB envelope.
RECEIVE_BYTES = 96 * 1024
_STREAM_END = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_SIGNAL_TERMINATE = f"{soap.SHELL_URI}/signal/terminate".lower()
_SIGNAL_STOP = "powershell/signal/crtl_c"
# What PowerShell says for a command that is not there (or not visible in a JEA session).
NOT_RECOGNIZED = (
    "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
    "operable program. Check the spelling of the name, or if a path was included, verify that "
    "the path is correct and try again."
)

# What a configuration answers for a script using a command or parameter outside its role
# (None: allowed); harness/probes/jea.py's refusal for the JEA configurations.
CommandCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class SessionConfiguration:
    """A registered session configuration: its name and, for a JEA role, the command check."""

    name: str
    refused: CommandCheck | None = None
    description: str = ""


def default_configurations() -> dict[str, SessionConfiguration]:
    """Microsoft.PowerShell (every node has it) and qmaudit's JEA configurations, registered."""
    from harness.probes.jea import ROLES, refusal

    out = {DEFAULT_CONFIGURATION.lower(): SessionConfiguration(DEFAULT_CONFIGURATION)}
    for role in ROLES:
        out[role.configuration.lower()] = SessionConfiguration(
            role.configuration,
            refused=lambda script, role=role: refusal(role, script),  # type: ignore[misc]
            description=role.description,
        )
    return out


@dataclass
class _Pipeline:
    id: uuid.UUID
    server: Any  # psrpcore.ServerPipeline
    started: bool = False
    done: bool = False


@dataclass
class _Pool:
    id: str
    owner: str
    configuration: SessionConfiguration
    server: Any  # psrpcore.ServerRunspacePool
    runspace: RunspaceCost
    cond: threading.Condition = field(default_factory=threading.Condition)
    queues: dict[uuid.UUID | None, list[bytes]] = field(default_factory=dict)
    pipelines: dict[uuid.UUID, _Pipeline] = field(default_factory=dict)
    closed: bool = False

    def flush(self) -> None:
        """Move psrpcore's outgoing fragments to the queue of their target (caller holds cond)."""
        while True:
            payload = self.server.data_to_send()
            if payload is None:
                break
            self.queues.setdefault(payload.pipeline_id, []).append(payload.data)
        self.cond.notify_all()


class PsrpService:
    """Answers the WS-Management requests of PSRP shells for one lab node."""

    def __init__(
        self,
        node: str,
        answer: Answer,
        stopping: threading.Event,
        url: str,
        *,
        cost: WindowsCost = OFF,
        configurations: Mapping[str, SessionConfiguration] | None = None,
        setup_script: Callable[[], str] | None = None,
    ) -> None:
        self.node = node
        self.answer = answer
        self.stopping = stopping
        self.url = url
        self.cost = cost
        self.configurations = dict(configurations or default_configurations())
        if setup_script is None:
            from harness.transport.psrp import runspace_setup_text

            setup_script = runspace_setup_text
        self._setup_script = setup_script
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self.pools_opened = 0  # observable for tests

    # -- dispatch -------------------------------------------------------------------------
    def handles(self, resource_uri: str) -> bool:
        """Whether a resource URI is a PowerShell session configuration (any name)."""
        return resource_uri.lower().startswith(PSRP_URI_PREFIX)

    def handle(self, request: WSManRequest, owner: str, client_ip: str) -> bytes:
        """The response envelope for a PSRP request; raises SoapFault for faults."""
        handlers = {
            soap.ACTION_CREATE: self._create,
            soap.ACTION_COMMAND: self._command,
            soap.ACTION_RECEIVE: self._receive,
            f"{soap.SHELL_URI}/Send": self._send,
            soap.ACTION_SIGNAL: self._signal,
            soap.ACTION_DELETE: self._delete,
        }
        handler = handlers.get(request.action)
        if handler is None:
            raise soap.action_not_supported_fault(request.action)
        action, body = handler(request, owner, client_ip)
        return soap.envelope(action, request.message_id, body)

    def count(self, owner: str) -> int:
        """Open pools of `owner` (they count against the shell quota like WinRS shells)."""
        with self._lock:
            return sum(1 for pool in self._pools.values() if pool.owner == owner)

    def close(self) -> None:
        """Forget every pool and wake its waiting receivers."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            with pool.cond:
                pool.closed = True
                pool.cond.notify_all()

    # -- requests ---------------------------------------------------------------------------
    def _configuration(self, resource_uri: str) -> SessionConfiguration:
        name = resource_uri[len(PSRP_URI_PREFIX) :]
        configuration = self.configurations.get(name.lower())
        if configuration is None:
            raise SoapFault(
                500,
                "s:Sender",
                "w:DestinationUnreachable",
                "The WS-Management service cannot process the request. Cannot find the "
                f"{name} session configuration in the WSMan: drive on the {self.node} computer.",
                soap.CODE_RESOURCE_NOT_FOUND,
            )
        return configuration

    def _pool(self, request: WSManRequest) -> _Pool:
        shell_id = request.selectors.get("ShellId", "")
        with self._lock:
            pool = self._pools.get(shell_id.upper()) if shell_id else None
        if pool is None or pool.closed:
            raise soap.invalid_selectors_fault(shell_id)
        return pool

    def _create(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        configuration = self._configuration(request.resource_uri)
        shell = request.body
        if shell is None or shell.tag != f"{{{NS['rsp']}}}Shell":
            raise soap.invalid_xml_fault("Create needs an rsp:Shell body")
        creation = shell.find(f"{{{PS_NS}}}creationXml")
        if creation is None:
            raise soap.invalid_xml_fault("a PowerShell shell needs creationXml")
        data = _b64(creation.text)
        shell_id = (shell.get("ShellId") or str(uuid.uuid4())).upper()
        server = psrpcore.ServerRunspacePool()
        pool = _Pool(shell_id, owner, configuration, server, RunspaceCost(self.cost))
        with pool.cond:
            self._feed(pool, data, None)
        if server.state != RunspacePoolState.Opened:
            raise soap.invalid_xml_fault("creationXml did not open a runspace pool")
        # wsmprovhost.exe starts for the new pool: Windows' process start, in real time.
        self._wait(pool.runspace.open_s())
        with self._lock:
            self._pools[shell_id] = pool
            self.pools_opened += 1
        body = soap.shell_created(
            self.url,
            request.resource_uri,
            shell_id,
            owner,
            client_ip,
            ("stdin pr", "stdout"),
            name="WinRM1",
        )
        return f"{soap.ACTION_CREATE}Response", body

    def _command(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        pool = self._pool(request)
        line = request.body
        if line is None or line.tag != f"{{{NS['rsp']}}}CommandLine":
            raise soap.invalid_xml_fault("Command needs an rsp:CommandLine body")
        try:
            pipeline_id = uuid.UUID(line.get("CommandId") or "")
        except ValueError:
            raise soap.invalid_xml_fault("a PowerShell Command needs a CommandId") from None
        data = b"".join(_b64(arg.text) for arg in line.findall("rsp:Arguments", NS))
        with pool.cond:
            if pipeline_id not in pool.pipelines:
                pipe = psrpcore.ServerPipeline(pool.server, pipeline_id)
                pool.pipelines[pipeline_id] = _Pipeline(pipeline_id, pipe)
            self._feed(pool, data, pipeline_id)
        body = f"<rsp:CommandResponse><rsp:CommandId>{str(pipeline_id).upper()}</rsp:CommandId>"
        return f"{soap.ACTION_COMMAND}Response", body + "</rsp:CommandResponse>"

    def _send(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        pool = self._pool(request)
        for stream in request.body.findall("rsp:Stream", NS) if request.body is not None else []:
            command_id = stream.get("CommandId")
            target = uuid.UUID(command_id) if command_id else None
            with pool.cond:
                if target is not None and target not in pool.pipelines:
                    raise soap.unknown_command_fault(command_id or "")
                self._feed(pool, _b64(stream.text), target)
        return f"{soap.SHELL_URI}/SendResponse", "<rsp:SendResponse/>"

    def _receive(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        pool = self._pool(request)
        desired = request.body.find("rsp:DesiredStream", NS) if request.body is not None else None
        command_id = desired.get("CommandId") if desired is not None else None
        target = uuid.UUID(command_id) if command_id else None
        deadline = time.monotonic() + request.operation_timeout_s
        with pool.cond:
            pipe = pool.pipelines.get(target) if target is not None else None
            if target is not None and pipe is None:
                raise soap.unknown_command_fault(command_id or "")
            while not pool.queues.get(target) and not (pipe is not None and pipe.done):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopping.is_set():
                    raise soap.operation_timeout_fault()
                if pool.closed:
                    raise soap.invalid_selectors_fault(pool.id)
                pool.cond.wait(min(remaining, 0.25))
            chunks: list[bytes] = []
            size = 0
            queue = pool.queues.get(target, [])
            while queue and (not chunks or size + len(queue[0]) <= RECEIVE_BYTES):
                chunk = queue.pop(0)
                chunks.append(chunk)
                size += len(chunk)
            finished = pipe is not None and pipe.done and not queue
        cid = f' CommandId="{str(target).upper()}"' if target is not None else ""
        streams = "".join(
            f'<rsp:Stream Name="stdout"{cid}>{base64.b64encode(c).decode()}</rsp:Stream>'
            for c in chunks
        )
        state = ""
        if target is not None:
            done = f"{_STREAM_END}" if finished else soap.STATE_RUNNING
            state = f'<rsp:CommandState{cid} State="{done}"/>'
        body = f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"
        return f"{soap.ACTION_RECEIVE}Response", body

    def _signal(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        pool = self._pool(request)
        signal = request.body
        if signal is None or signal.tag != f"{{{NS['rsp']}}}Signal":
            raise soap.invalid_xml_fault("Signal needs an rsp:Signal body")
        code = (signal.findtext("rsp:Code", "", NS) or "").strip().lower()
        try:
            target = uuid.UUID(signal.get("CommandId", ""))
        except ValueError:
            raise soap.unknown_command_fault(signal.get("CommandId", "")) from None
        with pool.cond:
            pipe = pool.pipelines.get(target)
            if pipe is None:
                raise soap.unknown_command_fault(str(target))
            if code == _SIGNAL_STOP and pipe.server.state == PSInvocationState.Running:
                pipe.server.stop()
                pipe.done = True
                pool.flush()
            elif code == _SIGNAL_TERMINATE:
                # The client is done with the pipeline: forget it (a late result is dropped).
                pool.pipelines.pop(target, None)
                pool.queues.pop(target, None)
                pool.server.pipeline_table.pop(target, None)
        return f"{soap.ACTION_SIGNAL}Response", "<rsp:SignalResponse/>"

    def _delete(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        pool = self._pool(request)
        with self._lock:
            self._pools.pop(pool.id, None)
        with pool.cond:
            pool.closed = True
            pool.cond.notify_all()
        return f"{soap.ACTION_DELETE}Response", ""

    # -- PSRP messages ------------------------------------------------------------------------
    def _feed(self, pool: _Pool, data: bytes, target: uuid.UUID | None) -> None:
        """Give psrpcore the fragments and act on the events (caller holds pool.cond)."""
        try:
            pool.server.receive_data(
                psrpcore.PSRPPayload(data, psrpcore.StreamType.default, target)
            )
            while True:
                event = pool.server.next_event()
                if event is None:
                    break
                if isinstance(event, psrpcore.CreatePipelineEvent):
                    self._start(pool, event)
        except psrpcore.PSRPCoreError as exc:
            raise soap.invalid_xml_fault(f"PSRP: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise soap.invalid_xml_fault(f"PSRP message not understood: {exc}") from None
        pool.flush()

    def _start(self, pool: _Pool, event: Any) -> None:
        pipe = pool.pipelines.get(event.pipeline_id)
        if pipe is None:
            return
        commands = event.pipeline.commands
        script = "\n".join(str(c.command_text) for c in commands)
        pipe.server.start()
        pipe.started = True
        # The pipeline runs as the logon of the connection that started it (second hop).
        logon = current_logon()
        worker = threading.Thread(
            target=self._run,
            args=(
                pool,
                pipe,
                script,
                bool(commands) and all(c.is_script for c in commands),
                logon,
            ),
            name=f"psrp-{self.node}",
            daemon=True,
        )
        worker.start()

    def _run(
        self,
        pool: _Pool,
        pipe: _Pipeline,
        script: str,
        is_script: bool,
        logon: Logon | None = None,
    ) -> None:
        output: str | None = None
        failure: str | None = None
        if is_script and script.strip() == self._setup_script().strip():
            # The harness's set-up pipeline: Import-Module of both modules, once per pool.
            self._wait(pool.runspace.probe_s(modules_in(script)))
            output = None
        else:
            refused = pool.configuration.refused(script) if pool.configuration.refused else None
            if refused:
                failure = refused
            elif not is_script:
                failure = NOT_RECOGNIZED.format(name=script.split()[0] if script else "")
            else:
                self._wait(pool.runspace.probe_s(modules_in(script)))
                try:
                    with logon_scope(logon):
                        outcome = self.answer(self.node, script)
                except Exception as exc:
                    failure = str(exc) or type(exc).__name__
                else:
                    if outcome.exit_code == 0:
                        output = outcome.stdout.decode("utf-8", "replace").rstrip("\r\n")
                    else:
                        failure = error_message(decode_clixml(outcome.stderr)) or "script failed"
        with pool.cond:
            if pipe.id not in pool.pipelines or pipe.server.state != PSInvocationState.Running:
                return  # terminated or stopped meanwhile
            if failure is not None:
                pipe.server._change_state(PSInvocationState.Failed, error=_error_record(failure))
            else:
                if output:
                    pipe.server.write_output(output)
                pipe.server.complete()
            pipe.done = True
            pool.flush()

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raise soap.invalid_xml_fault("a PSRP stream is not base64") from None


def _error_record(message: str) -> ErrorRecord:
    """What PowerShell sends for `throw "message"`: a RuntimeException, OperationStopped."""
    exception = NETException(Message=message)
    exception.PSObject.type_names = [
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
        "System.Exception",
        "System.Object",
    ]
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(
            Category=ErrorCategory.OperationStopped, Reason="RuntimeException", TargetName=message
        ),
        FullyQualifiedErrorId=message,
    )


__all__ = [
    "DEFAULT_CONFIGURATION",
    "NOT_RECOGNIZED",
    "PSRP_URI_PREFIX",
    "CommandCheck",
    "PsrpService",
    "SessionConfiguration",
    "default_configurations",
]
