"""Inventory files: a real cluster's nodes, credentials by reference and VM policy -> Target."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.domain.storage import Throughput
from harness.domain.thresholds import Thresholds
from harness.drivers.winrm import WinRMDriver
from harness.errors import InputError
from harness.redact import is_credential_key, note_document, register_secret
from harness.schemas import validate_document
from harness.targets.names import computer_name_problem, host_problem
from harness.targets.registry import Target, TargetSpec, VmPolicy, first_match
from harness.transport.endpoint import Endpoint
from harness.transport.session import prepare_endpoints
from harness.yamlfile import parse_yaml, read_yaml_file

INLINE_SECRET = "inline passwords are not allowed: use password_env"
# Transports that authenticate with a user name and password (kerberos may use a ticket cache,
# certificate uses client certificate files).
_PASSWORD_TRANSPORTS = frozenset({"ntlm", "credssp", "basic"})
_SETTINGS = (
    "scheme",
    "port",
    "path",
    "transport",
    "verify_tls",
    "ca_bundle",
    "kerberos_hostname",
    "kerberos_delegation",
    "kerberos_keytab",
    "kerberos_ccache",
    "send_cbt",
    "cert_pem",
    "cert_key_pem",
    "operation_timeout_s",
    "read_timeout_s",
    "connect_timeout_s",
    "retries",
    "session",
    "configuration_name",
)
_GUEST_PROBES = frozenset({"guest_clock", "guest_kvp"})
# Secrets typed at the prompt, by environment variable name: asked once per process.
_prompted: dict[str, str] = {}


@dataclass(frozen=True)
class NodeSpec:
    """One cluster node of the inventory with its merged endpoint settings."""

    name: str
    host: str
    settings: dict[str, Any]
    index: int


@dataclass(frozen=True)
class CredentialRef:
    """Credentials by reference: the names of the environment variables holding them."""

    username_env: str
    password_env: str
    json_path: str


@dataclass(frozen=True)
class Inventory:
    """A validated inventory file (no secret inside: only environment variable names)."""

    source: str
    cluster: str
    nodes: tuple[NodeSpec, ...]
    credentials: CredentialRef | None
    guest_credentials: CredentialRef | None
    policy: VmPolicy
    thresholds: Thresholds
    allow_destructive: bool = False
    lab_actions: bool = False
    non_member_host: str | None = None
    throughputs: tuple[Throughput, ...] = ()
    poll_interval_s: float = 1.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def needs_password(self) -> bool:
        """True when some node authenticates with a user name and password."""
        return any(n.settings.get("transport", "ntlm") in _PASSWORD_TRANSPORTS for n in self.nodes)


def find_inline_secret(value: Any, path: str = "$") -> str | None:
    """The JSON path of the first key that looks like an inline secret, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}"
            folded = str(key).casefold()
            inline = not isinstance(item, Mapping | list) and not folded.endswith("_env")
            if inline and is_credential_key(key):
                return here
            found = find_inline_secret(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_inline_secret(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def parse_inventory(doc: Any, source: str) -> Inventory:
    """Validate a parsed inventory document (InputError naming the field) and build it."""
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else f"a {type(doc).__name__}"
        raise InputError(source, "$", f"the top level must be a mapping, found {kind}")
    note_document(source, doc)
    secret_at = find_inline_secret(doc)
    if secret_at is not None:
        raise InputError(source, secret_at, INLINE_SECRET)
    validate_document("inventory", doc, source)
    nodes = _nodes(doc, source)
    policy = _policy(doc, source)
    thresholds = Thresholds().with_overrides(dict(doc.get("thresholds") or {}), source)
    non_member = doc.get("non_member_host")
    if non_member is not None and any(n.name.casefold() == non_member.casefold() for n in nodes):
        raise InputError(source, "$.non_member_host", f"{non_member!r} is a node of the inventory")
    throughputs = tuple(
        Throughput(t["path"], float(t["read_mb_s"]), float(t["write_mb_s"]))
        for t in doc.get("storage_throughput") or []
    )
    inventory = Inventory(
        source=source,
        cluster=doc["cluster"],
        nodes=nodes,
        credentials=_credential_ref(doc, "credentials"),
        guest_credentials=_credential_ref(doc, "guest_credentials"),
        policy=policy,
        thresholds=thresholds,
        allow_destructive=bool(doc.get("allow_destructive", False)),
        lab_actions=bool(doc.get("lab_actions", False)),
        non_member_host=non_member,
        throughputs=throughputs,
        poll_interval_s=float(doc.get("poll_interval_s", 1.0)),
        raw=doc,
    )
    if inventory.needs_password() and inventory.credentials is None:
        raise InputError(source, "$.credentials", "required for ntlm, credssp and basic transports")
    return inventory


def _credential_ref(doc: dict[str, Any], key: str) -> CredentialRef | None:
    ref = doc.get(key)
    if not ref:
        return None
    return CredentialRef(ref.get("username_env", ""), ref["password_env"], f"$.{key}")


def _nodes(doc: dict[str, Any], source: str) -> tuple[NodeSpec, ...]:
    defaults = dict(doc.get("defaults") or {})
    seen: dict[str, int] = {}
    hosts: dict[tuple[str, Any], int] = {}
    out = []
    for index, raw in enumerate(doc["nodes"]):
        folded = raw["name"].casefold()
        if folded in seen:
            raise InputError(
                source,
                f"$.nodes[{index}].name",
                f"duplicate node {raw['name']!r} (also $.nodes[{seen[folded]}])",
            )
        seen[folded] = index
        _check_names(raw, index, source)
        settings = {**defaults, **{k: v for k, v in raw.items() if k in _SETTINGS}}
        # Two nodes at one host and port would be one WinRM listener audited twice (the lab
        # serves every node on 127.0.0.1, one port each).
        place = (raw["host"].rstrip(".").casefold(), settings.get("port"))
        if place in hosts:
            raise InputError(
                source,
                f"$.nodes[{index}].host",
                f"host {raw['host']!r} is also the host of $.nodes[{hosts[place]}]",
            )
        hosts[place] = index
        spec = NodeSpec(raw["name"], raw["host"], settings, index)
        # Build once with an empty password: Endpoint checks ports, files, timeouts for us.
        _endpoint(spec, source, username="validation", password="")
        out.append(spec)
    return tuple(out)


def _check_names(raw: dict[str, Any], index: int, source: str) -> None:
    """A node's name is a Windows computer name; its host a DNS host name or IP address."""
    problem = computer_name_problem(raw["name"])
    if problem is not None:
        raise InputError(source, f"$.nodes[{index}].name", f"{raw['name']!r} is {problem}")
    problem = host_problem(raw["host"])
    if problem is not None:
        raise InputError(source, f"$.nodes[{index}].host", f"{raw['host']!r} is {problem}")


def _policy(doc: dict[str, Any], source: str) -> VmPolicy:
    vms = doc["vms"]
    allow, never = tuple(vms.get("allow") or ()), tuple(vms.get("never") or ())
    for index, pattern in enumerate(allow):
        hit = first_match(pattern, never)
        exact = any(pattern.casefold() == n.casefold() for n in never)
        literal = not any(ch in pattern for ch in "*?[")
        if exact or (literal and hit is not None):
            raise InputError(
                source,
                f"$.vms.allow[{index}]",
                f"VM {pattern!r} is in both vms.allow and vms.never",
            )
    return VmPolicy(allow, never)


def _endpoint(
    spec: NodeSpec, source: str, *, username: str | None, password: str | None
) -> Endpoint:
    values = dict(spec.settings)
    values.setdefault("scheme", "https")
    try:
        return Endpoint(
            node=spec.name, host=spec.host, username=username, password=password, **values
        )
    except InputError as exc:
        field_name = "" if exc.location in ("username", "password") else exc.location
        where = f"$.nodes[{spec.index}]" + (f".{field_name}" if field_name else "")
        raise InputError(source, where, exc.reason) from None


def node_endpoint(spec: NodeSpec, source: str) -> Endpoint:
    """A node's Endpoint without credentials (address, port and timeouts only)."""
    return _endpoint(spec, source, username="reachability", password="")


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file (YAML or JSON); InputError naming the field."""
    source = str(path)
    doc = read_yaml_file(path)  # JSON is YAML too
    return parse_inventory(doc, source)


def parse_inventory_text(text: str, source: str) -> Inventory:
    """Validate inventory text (tests and tools)."""
    return parse_inventory(parse_yaml(text, source), source)


def resolve_secret(
    env_name: str, source: str, json_path: str, what: str, *, secret: bool = True
) -> str:
    """The value of `env_name`; prompt on a terminal (no echo for secrets); else an InputError."""
    value = os.environ.get(env_name)
    if value is None:
        value = _prompted.get(env_name)
    if value is None and sys.stdin is not None and sys.stdin.isatty():
        prompt = f"{what} ({env_name}): "
        value = getpass.getpass(prompt) if secret else input(prompt)
        _prompted[env_name] = value
    if value is None:
        # The name passed the schema's variable-name pattern: naming it is how to fix this.
        raise InputError(
            source,
            json_path,
            f"environment variable {env_name} is not set (and no terminal to prompt on)",
            scrubbed=False,
        )
    if secret:
        register_secret(value)
    return value


def resolve_credentials(ref: CredentialRef | None, source: str, what: str) -> tuple[str, str]:
    """(username, password) from the referenced environment variables."""
    if ref is None:
        return "", ""
    password = resolve_secret(ref.password_env, source, f"{ref.json_path}.password_env", what)
    user = ""
    if ref.username_env:
        user = resolve_secret(
            ref.username_env,
            source,
            f"{ref.json_path}.username_env",
            f"{what} user name",
            secret=False,
        )
    return user, password


def endpoints_for(inventory: Inventory) -> list[Endpoint]:
    """Every node's Endpoint with the resolved credentials (registered as secrets first)."""
    user, password = resolve_credentials(inventory.credentials, inventory.source, "password")
    return [
        _endpoint(node, inventory.source, username=user or None, password=password or None)
        for node in inventory.nodes
    ]


class InventoryDriver(WinRMDriver):
    """WinRMDriver that adds PowerShell Direct credentials to the guest probes' parameters."""

    def __init__(self, endpoints: list[Endpoint], guest: dict[str, str]) -> None:
        super().__init__(endpoints)
        self._guest = dict(guest)

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """As WinRMDriver.run_probe; guest probes get guest_user/guest_password (masked)."""
        given = dict(params or {})
        if name in _GUEST_PROBES and self._guest:
            given = {**self._guest, **given}
        return super().run_probe(name, given, node)


def _transport_label(inventory: Inventory) -> str:
    first = inventory.nodes[0].settings
    scheme = str(first.get("scheme", "https")).upper()
    return f"WinRM over {scheme}, {str(first.get('transport', 'ntlm')).upper()}"


def check_inventory_spec(spec: str) -> Inventory:
    """Validate the file and resolve its credentials (prompting once if needed)."""
    inventory = load_inventory(spec)
    endpoints_for(inventory)
    resolve_credentials(inventory.guest_credentials, inventory.source, "guest password")
    return inventory


def check_connections(spec: str) -> None:
    """TLS trust and Kerberos tickets of every node (TlsTrustError / KerberosError, exit 2)."""
    prepare_endpoints(endpoints_for(load_inventory(spec)))


def open_inventory(spec: str) -> Target:
    """Open an inventory file as a cluster Target over WinRM."""
    inventory = load_inventory(spec)
    endpoints = endpoints_for(inventory)
    # TLS trust and Kerberos tickets of every node, before anything runs on any of them.
    prepare_endpoints(endpoints)
    guest: tuple[str, str] | None = None
    if inventory.guest_credentials is not None:
        guest = resolve_credentials(inventory.guest_credentials, inventory.source, "guest password")
    guest_params = {"guest_user": guest[0], "guest_password": guest[1]} if guest else {}
    driver = InventoryDriver(endpoints, guest_params)
    return Target(
        spec=spec,
        kind="cluster",
        driver=driver,
        thresholds=inventory.thresholds,
        poll_interval_s=inventory.poll_interval_s,
        allow_destructive=inventory.allow_destructive,
        non_member_host=inventory.non_member_host,
        throughputs=inventory.throughputs,
        transport=_transport_label(inventory),
        allow_vm=inventory.policy.allows,
        lab_actions=inventory.lab_actions,
        threshold_overrides=frozenset(inventory.raw.get("thresholds") or {}),
        vm_policy=inventory.policy,
        guest_credentials=guest,
    )


def check_inventory_target(spec: TargetSpec) -> None:
    """The registry's check of an inventory spec."""
    check_inventory_spec(str(spec.path))


def open_inventory_target(spec: TargetSpec, lab_speed: float = 0.0) -> Target:
    """The registry's opener of an inventory spec (the lab speed does not apply)."""
    return open_inventory(str(spec.path))
