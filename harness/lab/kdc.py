"""An MIT Kerberos KDC for the lab, run as an ordinary process on loopback with its own realm."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.lab.wsman.auth import write_private
from harness.redact import register_secret

DEFAULT_REALM = "QMLAB.TEST"
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")
START_TIMEOUT_S = 15.0
DEBIAN_PACKAGES = "krb5-kdc krb5-admin-server"


class KdcUnavailableError(HarnessError):
    """The MIT KDC programs are not installed (or the KDC did not come up)."""


def find_tool(name: str) -> str | None:
    """The path of an MIT Kerberos program (they live in sbin on Debian)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def kdc_available() -> bool:
    """True when krb5kdc, kdb5_util and kadmin.local are installed."""
    return all(find_tool(t) for t in _TOOLS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _end_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the KDC's process group (krb5kdc, or faketime and its krb5kdc child)."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError, AttributeError):
        if process.poll() is None:
            process.send_signal(sig)


def service_host(node: str, realm: str = DEFAULT_REALM) -> str:
    """The DNS name a lab node's HTTP/<host> service principal and certificate carry."""
    return f"{node.lower()}.{realm.lower()}"


class LabKdc:
    """A KDC for one test realm: database, kdc.conf and krb5.conf in a private folder.

    Clients and the lab's acceptor use `krb5_conf` (the KRB5_CONFIG variable); the KDC listens
    on 127.0.0.1 only, on a free port, over TCP and UDP. `clock_offset` (e.g. "+1h") runs the
    KDC under faketime, a KDC whose clock is off (the skew error a real domain gives).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        realm: str = DEFAULT_REALM,
        *,
        clock_offset: str | None = None,
        timesync: bool = True,
    ) -> None:
        self.realm = realm
        self.clock_offset = clock_offset
        # MIT clients correct their clock from a KDC's skew error unless kdc_timesync is off.
        self.timesync = timesync
        self._made_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="qmaudit-kdc-"))
        self.krb5_conf = self.directory / "krb5.conf"
        self.kdc_conf = self.directory / "kdc.conf"
        self.keytab = self.directory / "lab.keytab"
        self.port = 0
        self._services: set[str] = set()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables that point MIT tools and libraries at this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    def _tool(self, name: str) -> str:
        path = find_tool(name)
        if path is None:
            raise KdcUnavailableError(
                f"the MIT Kerberos KDC is not installed ({name} not found): "
                f"apt-get install {DEBIAN_PACKAGES}"
            )
        return path

    def _run(self, args: list[str]) -> str:
        env = {**os.environ, **self.env}
        done = subprocess.run(args, env=env, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            message = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            raise KdcUnavailableError(f"{Path(args[0]).name} failed: {message[-400:]}")
        return done.stdout.decode("utf-8", "replace")

    def start(self) -> LabKdc:
        """Create the realm's database and start the KDC; returns once it accepts connections."""
        if self._process is not None:
            return self
        kdc = self._tool("krb5kdc")
        self._tool("kadmin.local")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.port = _free_port()
        self._write_configs()
        master = secrets.token_urlsafe(24)
        register_secret(master)
        self._run([self._tool("kdb5_util"), "create", "-s", "-r", self.realm, "-P", master])
        command = [kdc, "-n", "-r", self.realm]
        if self.clock_offset:
            faketime = shutil.which("faketime")
            if faketime is None:
                raise KdcUnavailableError("a skewed KDC needs faketime: apt-get install faketime")
            command = [faketime, "-f", self.clock_offset, *command]
        log = (self.directory / "krb5kdc.out").open("wb")
        self._process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: faketime runs krb5kdc as a child, and stop() ends both.
            start_new_session=True,
        )
        log.close()
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                out = (self.directory / "krb5kdc.out").read_text("utf-8", "replace")
                self._process = None
                raise KdcUnavailableError(f"krb5kdc exited at start: {out.strip()[-400:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise KdcUnavailableError(f"krb5kdc did not listen on 127.0.0.1:{self.port} in time")

    def _write_configs(self) -> None:
        d = self.directory
        write_private(
            self.kdc_conf,
            "[kdcdefaults]\n"
            f"  kdc_listen = 127.0.0.1:{self.port}\n"
            f"  kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f"  {self.realm} = {{\n"
            f"    database_name = {d / 'principal'}\n"
            f"    key_stash_file = {d / 'stash'}\n"
            f"    acl_file = {d / 'kadm5.acl'}\n"
            "    max_life = 10h\n"
            "    max_renewable_life = 1d\n"
            # Pre-authentication, as Active Directory requires by default: the KDC checks the
            # client's timestamp, so a skewed clock is refused as on a domain controller.
            "    default_principal_flags = +preauth\n"
            "    supported_enctypes = aes256-cts-hmac-sha1-96:normal "
            "aes128-cts-hmac-sha1-96:normal\n"
            "  }\n"
            "[logging]\n"
            f"  kdc = FILE:{d / 'kdc.log'}\n",
        )
        write_private(d / "kadm5.acl", "")
        write_private(self.krb5_conf, self.client_config())

    def client_config(self) -> str:
        """krb5.conf for clients of this realm: no DNS, the KDC on loopback over TCP."""
        return (
            "[libdefaults]\n"
            f"  default_realm = {self.realm}\n"
            "  dns_lookup_kdc = false\n"
            "  dns_lookup_realm = false\n"
            "  dns_canonicalize_hostname = false\n"
            "  rdns = false\n"
            "  udp_preference_limit = 1\n"
            "  forwardable = true\n"
            + ("" if self.timesync else "  kdc_timesync = 0\n")
            + "[realms]\n"
            f"  {self.realm} = {{\n"
            f"    kdc = 127.0.0.1:{self.port}\n"
            "  }\n"
            "[domain_realm]\n"
            f"  .{self.realm.lower()} = {self.realm}\n"
            f"  {self.realm.lower()} = {self.realm}\n"
        )

    def kadmin(self, query: str) -> str:
        """Run one kadmin.local command against this realm's database."""
        return self._run([self._tool("kadmin.local"), "-r", self.realm, "-q", query])

    def add_user(self, name: str, password: str, *, max_life: str | None = None) -> str:
        """A user principal with a password; its full name (name@REALM)."""
        register_secret(password)
        principal = f"{name}@{self.realm}"
        life = f' -maxlife "{max_life}"' if max_life else ""
        self.kadmin(f'addprinc{life} -pw "{password}" {principal}')
        return principal

    def add_service(self, host: str, service: str = "HTTP") -> str:
        """A service principal SERVICE/host with a random key, added to the lab keytab."""
        principal = f"{service}/{host}@{self.realm}"
        if principal not in self._services:  # several labs may share one KDC
            self.kadmin(f"addprinc -randkey {principal}")
            self.kadmin(f"ktadd -k {self.keytab} {principal}")
            self._services.add(principal)
        return principal

    def export_user_keytab(self, principal: str, path: str | os.PathLike[str]) -> Path:
        """A client keytab holding a user's current key (its password keeps working)."""
        self.kadmin(f"ktadd -k {path} -norandkey {principal}")
        return Path(path)

    def stop(self) -> None:
        """Stop the KDC (and remove its folder if this object made it). Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            _end_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _end_group(process, signal.SIGKILL)
                process.wait(timeout=5)
            # faketime's child may outlive it by a moment: the group is ended either way.
            _end_group(process, signal.SIGKILL)
        if self._made_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LabKdc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
