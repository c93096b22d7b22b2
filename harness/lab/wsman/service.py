"""The WinRS shell service: Create, Command, Receive, Send, Signal and Delete."""

from __future__ import annotations

import base64
import shlex
import threading
import time
from xml.sax.saxutils import quoteattr

from harness.lab.wsman import soap
from harness.lab.wsman.psrp import PsrpService
from harness.lab.wsman.shells import Command, Shell, ShellStore
from harness.lab.wsman.soap import NS, SoapFault, WSManRequest

_SIGNALS = {
    f"{soap.SHELL_URI}/signal/terminate".lower(),
    f"{soap.SHELL_URI}/signal/ctrl_c".lower(),
    f"{soap.SHELL_URI}/signal/ctrl_break".lower(),
    "powershell/signal/crtl_c",  # PSRP's (misspelt) signal code
}
# winrm/config/winrs/MaxShellsPerUser default (MS-WSMV 2.2.4.42 WinrsType).
MAX_SHELLS_PER_USER = 30


class ShellService:
    """Answers one WS-Management request at a time (called from the HTTP handler threads)."""

    def __init__(
        self,
        store: ShellStore,
        url: str,
        stopping: threading.Event,
        max_shells_per_user: int = MAX_SHELLS_PER_USER,
        psrp: PsrpService | None = None,
    ) -> None:
        self.psrp = psrp
        self.store = store
        self.url = url
        self.stopping = stopping
        self.max_shells_per_user = max_shells_per_user

    def handle(self, request: WSManRequest, owner: str, client_ip: str) -> bytes:
        """The response envelope for a request; raises SoapFault for faults."""
        handlers = {
            soap.ACTION_CREATE: self._create,
            soap.ACTION_COMMAND: self._command,
            soap.ACTION_RECEIVE: self._receive,
            soap.ACTION_SIGNAL: self._signal,
            soap.ACTION_DELETE: self._delete,
            f"{soap.SHELL_URI}/Send": self._send,
        }
        handler = handlers.get(request.action)
        if handler is None:
            raise soap.action_not_supported_fault(request.action)
        uri = request.resource_uri
        if not uri or "://" not in uri or any(ch.isspace() for ch in uri):
            raise soap.invalid_uri_fault(uri)
        if self.psrp is not None and self.psrp.handles(uri):
            # PowerShell remoting (runspace pools): harness/lab/wsman/psrp.py.
            if (
                request.action == soap.ACTION_CREATE
                and self._shells(owner) >= self.max_shells_per_user
            ):
                raise soap.shell_quota_fault()
            return self.psrp.handle(request, owner, client_ip)
        if uri.lower() != soap.CMD_RESOURCE_URI:
            raise soap.resource_not_found_fault()
        action, body = handler(request, owner, client_ip)
        return soap.envelope(action, request.message_id, body)

    def _shells(self, owner: str) -> int:
        """WinRS shells and PSRP runspace pools of `owner`: both count against the quota."""
        return self.store.count(owner) + (self.psrp.count(owner) if self.psrp else 0)

    def _shell(self, request: WSManRequest) -> Shell:
        shell_id = request.selectors.get("ShellId", "")
        shell = self.store.get(shell_id) if shell_id else None
        if shell is None:
            raise soap.invalid_selectors_fault(shell_id)
        return shell

    @staticmethod
    def _command_of(shell: Shell, command_id: str) -> Command:
        command = shell.commands.get(command_id.upper())
        if command is None:
            raise soap.unknown_command_fault(command_id)
        return command

    def _create(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        if self._shells(owner) >= self.max_shells_per_user:
            raise soap.shell_quota_fault()
        shell = self.store.create(owner)
        streams_in = _child_text(request, "rsp:InputStreams") or "stdin"
        streams_out = _child_text(request, "rsp:OutputStreams") or "stdout stderr"
        body = soap.shell_created(
            self.url, soap.CMD_RESOURCE_URI, shell.id, owner, client_ip, (streams_in, streams_out)
        )
        return f"{soap.ACTION_CREATE}Response", body

    def _command(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        shell = self._shell(request)
        line = request.body
        if line is None or line.tag != f"{{{NS['rsp']}}}CommandLine":
            raise soap.invalid_xml_fault("Command needs an rsp:CommandLine body")
        command_text = (line.findtext("rsp:Command", "", NS) or "").strip()
        try:
            args = shlex.split(command_text, posix=False) if command_text else []
        except ValueError:
            args = command_text.split()
        arguments = [(argument.text or "") for argument in line.findall("rsp:Arguments", NS)]
        for argument in arguments:
            args.extend(argument.split())
        # WinRS hands the line to cmd.exe unless the client asks to skip it (MS-WSMV option).
        via_cmd = request.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() != "TRUE"
        command = self.store.start(
            shell,
            args,
            line.get("CommandId"),
            command_line=" ".join([command_text, *arguments]),
            via_cmd=via_cmd,
        )
        body = "<rsp:CommandResponse><rsp:CommandId>" + command.id + "</rsp:CommandId>"
        body += "</rsp:CommandResponse>"
        return f"{soap.ACTION_COMMAND}Response", body

    def _receive(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        shell = self._shell(request)
        desired = request.body.find("rsp:DesiredStream", NS) if request.body is not None else None
        command_id = desired.get("CommandId", "") if desired is not None else ""
        command = self._command_of(shell, command_id)
        deadline = time.monotonic() + request.operation_timeout_s
        # Wait in slices so that stop() and Delete wake this thread promptly.
        while not command.done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stopping.is_set():
                raise soap.operation_timeout_fault()
            command.done.wait(min(remaining, 0.25))
        if command.outcome is None or self.store.get(shell.id) is None:
            raise soap.invalid_selectors_fault(shell.id)
        out, err, finished = command.next_chunk()
        cid = quoteattr(command.id)
        parts = []
        for name, data in (("stdout", out), ("stderr", err)):
            if data:
                encoded = base64.b64encode(data).decode("ascii")
                parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}>{encoded}</rsp:Stream>')
            if finished:
                parts.append(f'<rsp:Stream Name="{name}" CommandId={cid} End="true"></rsp:Stream>')
        if finished:
            state = (
                f'<rsp:CommandState CommandId={cid} State="{soap.STATE_DONE}">'
                f"<rsp:ExitCode>{command.outcome.exit_code}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            state = f'<rsp:CommandState CommandId={cid} State="{soap.STATE_RUNNING}"/>'
        body = f"<rsp:ReceiveResponse>{''.join(parts)}{state}</rsp:ReceiveResponse>"
        return f"{soap.ACTION_RECEIVE}Response", body

    def _send(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        shell = self._shell(request)
        stream = request.body.find("rsp:Stream", NS) if request.body is not None else None
        if stream is not None:
            command = self._command_of(shell, stream.get("CommandId", ""))
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except ValueError:
                raise soap.invalid_xml_fault("the stdin stream is not base64") from None
            if stream.get("Name", "stdin") == "stdin":
                self.store.feed(command, data, stream.get("End", "").lower() == "true")
        return f"{soap.SHELL_URI}/SendResponse", "<rsp:SendResponse/>"

    def _signal(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        shell = self._shell(request)
        signal = request.body
        if signal is None or signal.tag != f"{{{NS['rsp']}}}Signal":
            raise soap.invalid_xml_fault("Signal needs an rsp:Signal body")
        code = (signal.findtext("rsp:Code", "", NS) or "").strip()
        if code.lower() not in _SIGNALS:  # pypsrp sends .../signal/Terminate
            raise SoapFault(
                500,
                "s:Sender",
                "w:InvalidParameter",
                "The parameter is incorrect.",
                87,
                f"Unknown signal code: {code}",
            )
        command_id = signal.get("CommandId", "")
        self._command_of(shell, command_id)
        # A terminated command is forgotten; its worker's late result is simply dropped.
        shell.commands.pop(command_id.upper(), None)
        return f"{soap.ACTION_SIGNAL}Response", "<rsp:SignalResponse/>"

    def _delete(self, request: WSManRequest, owner: str, client_ip: str) -> tuple[str, str]:
        shell = self._shell(request)
        self.store.delete(shell.id)
        return f"{soap.ACTION_DELETE}Response", ""


def _child_text(request: WSManRequest, path: str) -> str:
    if request.body is None:
        return ""
    return (request.body.findtext(path, "", NS) or "").strip()
