"""Serve a lab topology over WinRM on 127.0.0.1: one WS-Management listener per lab host."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol, TextIO, cast

import yaml

from harness.errors import LabOperationError
from harness.exits import command_name
from harness.lab.clock import ScaledClock, pacing_wanted
from harness.lab.cost import OFF, WindowsCost, resolve_cost
from harness.lab.kdc import DEFAULT_REALM, LabKdc, service_host
from harness.lab.logon import current_logon
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.topology import Topology, lab_throughputs, load_default_topology, load_topology
from harness.lab.wsman import (
    Answer,
    CommandOutcome,
    LabCredentials,
    ListenerFaults,
    NtlmUserStore,
    WSManListener,
)
from harness.lab.wsman.auth import write_private
from harness.lab.wsman.clixml import throw_stderr
from harness.lab.wsman.server import DEFAULT_AUTH, PERMISSIVE_AUTH
from harness.lab.wsman.tls import LabCA, TlsFiles
from harness.signals import handling

CREDENTIALS_FILE = "credentials.json"
ENDPOINTS_FILE = "endpoints.json"
INVENTORY_FILE = "inventory.yaml"
CA_FILE = "lab-ca.pem"
KRB5_CONF_FILE = "krb5.conf"
# The inventory names these variables; their values are in the credentials file only.
USER_ENV = "QM_LAB_USER"
PASSWORD_ENV = "QM_LAB_PASSWORD"


class ProbeResponder(Protocol):
    """The lab side of the probe seam (harness.lab.responder.LabResponder)."""

    def answer(self, node: str, probe: str, params: dict[str, Any]) -> dict[str, Any]:
        """The probe document of `probe` run on `node`; LabOperationError for refusals."""
        ...


def make_answer(
    responder: ProbeResponder,
    parse: Callable[[str], tuple[str, dict[str, Any]]] | None = None,
) -> Answer:
    """The listener's answer function: parse the probe script, ask the responder, print JSON."""
    if parse is None:
        from harness.probes.protocol import parse_script

        parse = parse_script

    # A LabResponder takes the session a probe runs in (a wrapper may not: then the topology's).
    takes_session = isinstance(responder, LabResponder) and (
        "session" in inspect.signature(responder.answer).parameters
    )

    def answer(node: str, script: str) -> CommandOutcome:
        try:
            probe, params = parse(script)
            logon = current_logon()
            if logon is not None and takes_session:
                # The wire authenticated this session: that logon decides the second hop.
                lab = cast(LabResponder, responder)
                session = lab.cluster.topology.session.with_logon(logon.session_logon)
                doc = lab.answer(node, probe, params, session=session)
            else:
                doc = responder.answer(node, probe, params)
        except LabOperationError as exc:
            return CommandOutcome(1, b"", throw_stderr(exc.message, script))
        except ValueError as exc:
            return CommandOutcome(1, b"", throw_stderr(str(exc), script))
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        # powershell.exe ends its output with CRLF.
        return CommandOutcome(0, (text + "\r\n").encode("utf-8"), b"")

    return answer


def build_lab_responder(topology: Topology, speed: float) -> ProbeResponder:
    """LabResponder over a LabCluster running on scaled real time."""
    cluster = LabCluster(topology, ScaledClock(speed=speed, paced=pacing_wanted()))
    responder: ProbeResponder = LabResponder(cluster)
    return responder


def _load_topology(file: str | None) -> Topology:
    return load_topology(file) if file else load_default_topology()


class LabServer:
    """A lab served in-process on background threads: start/stop, endpoints and credentials."""

    def __init__(
        self,
        topology: Topology | None = None,
        *,
        file: str | None = None,
        speed: float = 20.0,
        state_dir: str | None = None,
        responder: ProbeResponder | None = None,
        answer: Answer | None = None,
        auth: tuple[str, ...] = DEFAULT_AUTH,
        faults: ListenerFaults | None = None,
        allow_unencrypted: bool = False,
        command_start_s: float = 0.0,
        https: bool = False,
        kdc: LabKdc | None = None,
        cbt_strict: bool = True,
        cost: WindowsCost | None = None,
    ) -> None:
        self.topology = topology if topology is not None else _load_topology(file)
        # Windows' real-time probe costs: given, else the topology's (QM_LAB_WINDOWS_COST wins).
        self.cost = cost if cost is not None else resolve_cost(self.topology.windows_cost)
        # HTTPS: every listener gets a certificate from a CA made for this lab (`ca_path`).
        self.https = https
        self.cbt_strict = cbt_strict
        self.ca: LabCA | None = None
        self.ca_path: Path | None = None
        # Kerberos: the lab's user and HTTP/<host> principals live in this KDC's realm.
        self.kdc = kdc
        self.kerberos_principal: str | None = None
        self.speed = speed
        self.auth = auth
        self.allow_unencrypted = allow_unencrypted
        self.command_start_s = command_start_s
        self.faults = faults
        self._responder = responder
        self._answer = answer
        self._requested_state_dir = state_dir
        self._created_state_dir = False
        self.state_dir: Path | None = None
        self.credentials: LabCredentials | None = None
        self.credentials_path: Path | None = None
        self.inventory_path: Path | None = None
        self.listeners: dict[str, WSManListener] = {}

    @property
    def hosts(self) -> list[str]:
        """Every lab host that gets a listener: cluster nodes (Up or not), then non-members."""
        names = [n.name for n in self.topology.nodes]
        names += [n.name for n in self.topology.non_members]
        return names

    @property
    def endpoints(self) -> dict[str, str]:
        """Host name -> http://127.0.0.1:<port>/wsman."""
        return {name: listener.url for name, listener in self.listeners.items()}

    def start(self) -> LabServer:
        """Create the state dir and credentials, start one listener per host."""
        if self.listeners:
            return self
        self._make_state_dir()
        assert self.state_dir is not None
        self.credentials = LabCredentials.generate()
        self.credentials_path = self.credentials.write(self.state_dir / CREDENTIALS_FILE)
        NtlmUserStore.register(self.credentials, str(self.state_dir))
        tls = self._make_certificates() if self.https else {}
        if self.kdc is not None:
            self._register_principals(self.kdc)
        answer = self._answer
        if answer is None:
            responder = self._responder or build_lab_responder(self.topology, self.speed)
            answer = make_answer(responder)
        try:
            for host in self.hosts:
                listener = WSManListener(
                    host,
                    answer,
                    self.credentials,
                    auth=self.auth,
                    faults=self.faults,
                    allow_unencrypted=self.allow_unencrypted,
                    command_start_s=self.command_start_s,
                    tls=tls.get(host),
                    cbt_strict=self.cbt_strict,
                    cost=self.cost if self.cost.enabled else None,
                )
                self.listeners[host] = listener.start()
        except BaseException:
            self.stop()
            raise
        doc = {"credentials_file": str(self.credentials_path), "endpoints": self.endpoints}
        write_private(self.state_dir / ENDPOINTS_FILE, json.dumps(doc, indent=2) + "\n")
        self.inventory_path = write_private(
            self.state_dir / INVENTORY_FILE, lab_inventory_text(self)
        )
        return self

    @property
    def realm(self) -> str:
        return self.kdc.realm if self.kdc is not None else DEFAULT_REALM

    def service_host(self, host: str) -> str:
        """The DNS name of a lab host: in its certificate and its HTTP/<name> principal."""
        return service_host(host, self.realm)

    def _make_certificates(self) -> dict[str, TlsFiles]:
        assert self.state_dir is not None
        self.ca = LabCA.create()
        self.ca_path = self.ca.write_bundle(self.state_dir / CA_FILE)
        out = {}
        for host in self.hosts:
            # Names a client may use for this lab node: its FQDN, its short name, loopback.
            cert = self.ca.issue(
                [self.service_host(host), host.lower(), "localhost"], ["127.0.0.1"]
            )
            cert_path, key_path = cert.write(self.state_dir, f"tls-{host}")
            out[host] = TlsFiles(cert_path, key_path)
        return out

    def _register_principals(self, kdc: LabKdc) -> None:
        """The lab user and every host's HTTP/<name> in the KDC; the acceptors' keytab."""
        assert self.credentials is not None and self.state_dir is not None
        self.kerberos_principal = kdc.add_user(self.credentials.username, self.credentials.password)
        for host in self.hosts:
            kdc.add_service(self.service_host(host))
        # The acceptors (python-gssapi) read the keytab the variable names, process-wide.
        os.environ["KRB5_KTNAME"] = f"FILE:{kdc.keytab}"
        write_private(self.state_dir / KRB5_CONF_FILE, kdc.client_config())

    def _make_state_dir(self) -> None:
        if self._requested_state_dir:
            path = Path(self._requested_state_dir)
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.state_dir = path
        else:
            self.state_dir = Path(tempfile.mkdtemp(prefix="qmaudit-lab-"))  # mode 0700
            self._created_state_dir = True

    def stop(self) -> None:
        """Stop every listener and remove the secrets this server wrote. Idempotent."""
        for listener in self.listeners.values():
            listener.stop()
        self.listeners = {}
        if self.credentials is not None:
            NtlmUserStore.unregister(self.credentials)
        if self.state_dir is not None:
            if self._created_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            else:
                for name in (CREDENTIALS_FILE, ENDPOINTS_FILE, INVENTORY_FILE, CA_FILE):
                    (self.state_dir / name).unlink(missing_ok=True)
        self.state_dir = None
        self.inventory_path = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def lab_inventory(server: LabServer) -> dict[str, Any]:
    """The inventory document of a started server: a cluster target reached like a real one."""
    members = {n.name for n in server.topology.nodes}
    nodes = []
    for host, listener in server.listeners.items():
        if host in members:
            node: dict[str, Any] = {"name": host, "host": "127.0.0.1", "port": listener.port}
            if server.kdc is not None:
                # Reached by address: name the host its HTTP/<name> principal is registered for.
                node["kerberos_hostname"] = server.service_host(host)
            nodes.append(node)
    non_members = server.topology.non_members
    defaults: dict[str, Any] = {
        # By default the lab listens on plain HTTP on loopback; a real cluster uses https.
        "scheme": "https" if server.https else "http",
        "transport": "kerberos" if server.kdc is not None else "ntlm",
        "retries": 1,
    }
    if server.ca_path is not None:
        defaults["ca_bundle"] = str(server.ca_path)
    if server.kdc is not None:
        # The lab's audit account is trusted for delegation: its sessions make the second hop.
        defaults["kerberos_delegation"] = True
    return {
        "cluster": server.topology.cluster.name,
        "defaults": defaults,
        "credentials": {"username_env": USER_ENV, "password_env": PASSWORD_ENV},
        "nodes": nodes,
        "vms": {"allow": ["*"], "never": []},
        # The lab can be crashed and powered on again at no cost: allow what a real cluster
        # would only allow by explicit opt-in.
        "allow_destructive": True,
        "lab_actions": True,
        "non_member_host": non_members[0].name if non_members else None,
        "storage_throughput": [
            {"path": t.root, "read_mb_s": t.read_mb_s, "write_mb_s": t.write_mb_s}
            for t in lab_throughputs(server.topology)
        ],
        # Poll often enough to see a few samples inside a save window at this clock speed.
        "poll_interval_s": max(0.005, min(0.5, 0.4 / server.speed)),
    }


def lab_inventory_text(server: LabServer) -> str:
    """The inventory as YAML with a header comment (credentials by variable name only)."""
    header = (
        f"# qmaudit inventory for the lab '{server.topology.cluster.name}' served on loopback.\n"
        f"# Credentials: environment variables {USER_ENV} and {PASSWORD_ENV}; their values\n"
        f"# are in {server.credentials_path}.\n"
    )
    body = yaml.safe_dump(lab_inventory(server), sort_keys=False, allow_unicode=True)
    return header + body


def export_lines(server: LabServer) -> list[str]:
    """The shell lines that set the inventory's variables (the password is read from its file)."""
    assert server.credentials is not None and server.credentials_path is not None
    name = server.kerberos_principal or server.credentials.qualified_username
    user = name.replace("'", "'\\''")
    reader = "import json,sys; print(json.load(open(sys.argv[1]))['password'])"
    lines = [
        f"export {USER_ENV}='{user}'",
        f'export {PASSWORD_ENV}="$({sys.executable} -c "{reader}" {server.credentials_path})"',
    ]
    if server.kdc is not None and server.state_dir is not None:
        # Kerberos clients find the lab's realm and KDC through this krb5.conf.
        lines.append(f"export KRB5_CONFIG={server.state_dir / KRB5_CONF_FILE}")
    return lines


def print_banner(server: LabServer, out: TextIO) -> None:
    """The endpoint table, the credentials file and the clock speed (never the password)."""
    width = max((len(h) for h in server.hosts), default=4)
    members = {n.name for n in server.topology.nodes}
    scheme = "HTTPS" if server.https else "HTTP"
    out.write(
        f"qmaudit lab '{server.topology.cluster.name}' served over WinRM ({scheme}, loopback)\n"
    )
    for host, url in server.endpoints.items():
        role = "node" if host in members else "non-member"
        out.write(f"  {host:<{width}}  {url}  ({role})\n")
    out.write(f"credentials file: {server.credentials_path} (mode 0600)\n")
    if server.ca_path is not None:
        out.write(f"CA certificate (ca_bundle): {server.ca_path}\n")
    if server.kdc is not None:
        out.write(
            f"Kerberos realm {server.realm}: KDC on 127.0.0.1:{server.kdc.port}, "
            f"user {server.kerberos_principal}, HTTP/<host>.{server.realm.lower()} principals\n"
        )
    out.write(f"inventory file: {server.inventory_path}\n")
    out.write("to audit it as a cluster target, in another shell:\n")
    for line in export_lines(server):
        out.write(f"  {line}\n")
    qmaudit = command_name()
    out.write(f"  {qmaudit} check-inventory --target {server.inventory_path}\n")
    plaintext = "allowed" if server.allow_unencrypted else "refused (encrypted messages only)"
    out.write(f"auth: {', '.join(server.auth)}; unencrypted messages: {plaintext}\n")
    if not ({"credssp", "kerberos"} & set(server.auth)):
        # The wire's logon decides the second hop, as on Windows (docs/connecting.md).
        out.write(
            "second hop: NTLM sessions cannot reach SMB shares (the SMB 3 claims cannot be "
            "judged); --credssp or --kerberos give sessions that can\n"
        )
    out.write(f"lab clock speed: {server.speed:g}x real time\n")
    out.write(f"Windows probe cost: {server.cost.describe()}\n")
    out.write("press Ctrl+C to stop\n")
    out.flush()


def serve_forever(
    file: str | None,
    speed: float = 20.0,
    state_dir: str | None = None,
    *,
    permissive: bool = False,
    https: bool = False,
    kerberos: bool = False,
    no_ntlm: bool = False,
    credssp: bool = False,
    windows_cost: bool | None = None,
) -> int:
    """`qmaudit lab serve`: serve until SIGINT/SIGTERM, then shut down cleanly; exit code 0.

    By default the listeners behave like a default Windows WinRM service (no Basic, encrypted
    messages only); `permissive` also accepts Basic and unencrypted messages. `https` serves
    TLS; `kerberos` starts a KDC on loopback; `no_ntlm` refuses NTLM; `credssp` accepts CredSSP.
    """
    methods = list(PERMISSIVE_AUTH if permissive else DEFAULT_AUTH)
    kerberos = kerberos or no_ntlm
    https = https or credssp
    if kerberos:
        methods.append("kerberos")
    if credssp:
        methods.append("credssp")
    if no_ntlm:
        methods.remove("ntlm")
    auth = tuple(methods)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    kdc = LabKdc() if kerberos else None
    with handling(on_signal), contextlib.ExitStack() as stack:
        if kdc is not None:
            kdc.start()
            stack.callback(kdc.stop)
        topology = _load_topology(file)
        cost = None
        if windows_cost is not None:
            own = topology.windows_cost
            cost = (own if own and own.enabled else WindowsCost.measured()) if windows_cost else OFF
        with LabServer(
            topology,
            speed=speed,
            state_dir=state_dir,
            auth=auth,
            allow_unencrypted=permissive,
            https=https,
            kdc=kdc,
            cost=cost,
        ) as server:
            print_banner(server, sys.stdout)
            while not stop.wait(0.5):
                pass
            sys.stdout.write("stopping the lab listeners\n")
    sys.stdout.flush()
    return 0


__all__ = [
    "LabServer",
    "ProbeResponder",
    "export_lines",
    "lab_inventory",
    "make_answer",
    "print_banner",
    "serve_forever",
]
