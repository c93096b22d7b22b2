"""`qmaudit inventory from-ansible`: a qmaudit inventory from an Ansible inventory, no secrets."""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.atomic import atomic_write
from harness.errors import InputError
from harness.targets.ansible_static import VaultedValue, hosts_of, is_template, load_groups
from harness.terminal import printable

# Ansible's connection variables for Windows hosts (ansible.builtin winrm / psrp plugins).
WINDOWS_CONNECTIONS = ("winrm", "psrp", "ansible.builtin.winrm", "ansible.windows.psrp")
PASSWORD_VARS = (
    "ansible_password",
    "ansible_winrm_pass",
    "ansible_winrm_password",
    "ansible_psrp_password",
    "ansible_pass",
    "ansible_become_password",
    "ansible_become_pass",
)
QM_TRANSPORTS = ("ntlm", "kerberos", "credssp", "basic", "certificate")
# The one template recognised, as text (never evaluated): {{ lookup('env', 'NAME') }}.
ENV_LOOKUP = re.compile(
    r"\{\{-?\s*lookup\(\s*['\"](?:ansible\.builtin\.)?env['\"]\s*,\s*['\"](\w+)['\"]\s*\)\s*-?\}\}"
)
# Variables whose values are copied into the qmaudit inventory or decide what is copied.
COPIED_VARS = (
    "ansible_connection",
    "ansible_shell_type",
    "ansible_user",
    "qm_cluster",
    "ansible_host",
    "ansible_winrm_host",
    "ansible_psrp_host",
    "ansible_port",
    "ansible_winrm_port",
    "ansible_psrp_port",
    "ansible_winrm_scheme",
    "ansible_psrp_protocol",
    "ansible_winrm_transport",
    "ansible_psrp_auth",
    "ansible_winrm_path",
    "ansible_psrp_path",
    "ansible_winrm_server_cert_validation",
    "ansible_psrp_cert_validation",
    "ansible_winrm_ca_trust_path",
    "ansible_psrp_ca_cert",
    "ansible_psrp_cert_trust_path",
)
TEMPLATE_REFUSED = (
    "a Jinja template is not evaluated (nothing of the inventory runs): refused; "
    "write the literal value"
)
DEFAULT_PASSWORD_ENV = "QM_PASSWORD"
DEFAULT_USER_ENV = "QM_USER"


@dataclass
class AnsibleHost:
    """One host of the group with the variables Ansible resolves for it."""

    name: str
    vars: dict[str, Any]


def _load_list_json(doc: dict[str, Any], group: str, source: str) -> list[AnsibleHost]:
    """Hosts of `group` (and its child groups) from `ansible-inventory --list` output."""
    hostvars = (doc.get("_meta") or {}).get("hostvars") or {}
    if group not in doc:
        raise InputError(source, f"$.{group}", f"no group {group!r} in the inventory")
    names: list[str] = []
    group_vars: dict[str, dict[str, Any]] = {}
    pending, seen = [group], set()
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        node = doc.get(name) or {}
        group_vars[name] = node.get("vars") or {}
        names += [h for h in node.get("hosts") or [] if h not in names]
        pending += list(node.get("children") or [])
    hosts = []
    for name in names:
        merged: dict[str, Any] = {}
        for gvars in group_vars.values():
            merged.update(gvars)
        merged.update(hostvars.get(name) or {})
        hosts.append(AnsibleHost(name, merged))
    return hosts


def _load_with_ansible(path: Path, group: str, source: str) -> list[AnsibleHost]:
    """Hosts of `group` from an INI/YAML inventory, parsed by ansible-core's InventoryManager."""
    try:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager
    except ImportError:
        raise InputError(
            source, "", "ansible-core is not installed (pip install ansible-core)"
        ) from None
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    if group not in inventory.groups:
        known = ", ".join(sorted(g for g in inventory.groups if g not in ("all", "ungrouped")))
        raise InputError(source, group, f"no such group in the inventory (groups: {known})")
    variables = VariableManager(loader=loader, inventory=inventory)
    hosts = []
    for host in inventory.groups[group].get_hosts():
        # Host and group variables (group_vars/, host_vars/ included), not yet templated.
        resolved = variables.get_vars(host=host, include_hostvars=False)
        keep = {k: v for k, v in resolved.items() if k.startswith(("ansible_", "qm_"))}
        hosts.append(AnsibleHost(host.name, keep))
    return hosts


def load_hosts(path: Path, group: str, allow_dynamic: bool = False) -> list[AnsibleHost]:
    """The group's hosts. By default from a static file only (INI, YAML, `--list` JSON), read
    without Ansible: nothing runs. `allow_dynamic` hands the source to ansible-core, whose
    inventory plugins and scripts RUN CODE from the inventory."""
    source = str(path)
    if not path.exists():
        raise InputError(source, "", "no such file")
    if allow_dynamic:
        return _load_with_ansible(path, group, source)
    groups = load_groups(path)
    return [AnsibleHost(h.name, h.vars) for h in hosts_of(groups, group, path)]


def _is_windows(host: AnsibleHost) -> bool:
    conn = str(host.vars.get("ansible_connection") or "")
    return conn in WINDOWS_CONNECTIONS or host.vars.get("ansible_shell_type") == "powershell"


def _password_env(hosts: list[AnsibleHost], source: str) -> str:
    """The env var the password comes from; InputError for a password written inline."""
    names = set()
    for host in hosts:
        for var in PASSWORD_VARS:
            if var not in host.vars:
                continue
            value = host.vars[var]
            # A vaulted value is an object, not plain text: not inline, but qmaudit can't read it.
            kind = type(value).__name__
            vaulted = isinstance(value, VaultedValue) or "Vault" in kind or "Encrypted" in kind
            if not isinstance(value, str) or vaulted:
                continue
            text = str(value)
            match = ENV_LOOKUP.fullmatch(text.strip())
            if match:
                names.add(match.group(1))
                continue
            if is_template(text):
                reason = (
                    f"{var} is a template other than {{{{ lookup('env', 'NAME') }}}}: "
                    "not evaluated, refused (not copied)"
                )
                raise InputError(source, f"$.{host.name}.{var}", reason)
            reason = (
                f"inline password in {var}: refused (not copied). Give it through an "
                f"environment variable, e.g. {var}: \"{{{{ lookup('env', "
                f"'{DEFAULT_PASSWORD_ENV}') }}}}\", or remove it"
            )
            raise InputError(source, f"$.{host.name}.{var}", reason)
    if len(names) > 1:
        reason = f"hosts take the password from different variables: {', '.join(sorted(names))}"
        raise InputError(source, "$", reason)
    return names.pop() if names else DEFAULT_PASSWORD_ENV


def _transport(value: Any) -> str | None:
    items = value if isinstance(value, list) else str(value or "").split(",")
    for item in (str(i).strip().lower() for i in items):
        if item in QM_TRANSPORTS:
            return item
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _first(v: dict[str, Any], *names: str) -> Any:
    """The first of several Ansible variable names that is set (winrm and psrp spell them
    differently: ansible_winrm_scheme / ansible_psrp_protocol, ...)."""
    for name in names:
        if v.get(name) not in (None, ""):
            return v[name]
    return None


def _port(value: Any, source: str, where: str) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        raise InputError(source, where, "the port is not a number") from None
    if not 0 < port < 65536:
        raise InputError(source, where, f"port {port} is out of range (1-65535)")
    return port


def _check_literal(hosts: list[AnsibleHost], source: str) -> None:
    """InputError for a copied variable holding a template (kept literal, never evaluated)."""
    for host in hosts:
        for var in COPIED_VARS:
            if is_template(host.vars.get(var)):
                raise InputError(source, f"$.{host.name}.{var}", TEMPLATE_REFUSED)
        if is_template(host.name):
            raise InputError(source, f"$.{host.name}", TEMPLATE_REFUSED)


def _comment(text: object) -> str:
    """Text fit for one comment line of the output: no newline or control character."""
    return printable(text, keep_newlines=False)


def _node(host: AnsibleHost, source: str = "") -> dict[str, Any]:
    v = host.vars
    node: dict[str, Any] = {
        # Cluster node names are the hosts' short names; an IP address stays whole.
        "name": host.name if _is_ip(host.name) else host.name.split(".")[0],
        "host": str(
            _first(v, "ansible_host", "ansible_winrm_host", "ansible_psrp_host") or host.name
        ),
    }
    port = _first(v, "ansible_port", "ansible_winrm_port", "ansible_psrp_port")
    if port is not None:
        port = node["port"] = _port(port, source, f"$.{host.name}.ansible_port")
    scheme = _first(v, "ansible_winrm_scheme", "ansible_psrp_protocol")
    if scheme is None and port is not None:
        # Ansible's rule (winrm and psrp plugins): http when the port is 5985, https otherwise.
        scheme = "http" if int(port) == 5985 else "https"
    if str(scheme) in ("http", "https"):
        node["scheme"] = str(scheme)
    transport = _transport(_first(v, "ansible_winrm_transport", "ansible_psrp_auth"))
    if transport:
        node["transport"] = transport
    path = _first(v, "ansible_winrm_path", "ansible_psrp_path")
    if path:
        node["path"] = "/" + str(path).lstrip("/")
    validation = _first(v, "ansible_winrm_server_cert_validation", "ansible_psrp_cert_validation")
    if str(validation or "").lower() == "ignore":
        node["verify_tls"] = False
    ca = _first(
        v, "ansible_winrm_ca_trust_path", "ansible_psrp_ca_cert", "ansible_psrp_cert_trust_path"
    )
    if ca:
        node["ca_bundle"] = str(ca)
    return node


def render_inventory(hosts: list[AnsibleHost], group: str, source: str) -> tuple[str, list[str]]:
    """The qmaudit inventory text (YAML with comments) and notes for the user."""
    windows = [h for h in hosts if _is_windows(h)]
    if not windows:
        reason = (
            f"group {group!r} has no Windows hosts (ansible_connection: winrm or psrp); "
            f"{len(hosts)} other host(s)"
        )
        raise InputError(source, group, reason)
    _check_literal(hosts, source)
    password_env = _password_env(windows, source)
    notes = [f"skipped {h.name}: not a Windows host" for h in hosts if h not in windows]
    users = sorted({str(h.vars["ansible_user"]) for h in windows if h.vars.get("ansible_user")})
    cluster = str(windows[0].vars.get("qm_cluster") or group)
    doc = {
        "cluster": cluster,
        "credentials": {"username_env": DEFAULT_USER_ENV, "password_env": password_env},
        "nodes": [_node(h, source) for h in windows],
    }
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    user_note = (
        f"# Ansible's ansible_user: {_comment(', '.join(users))}; "
        f"export {DEFAULT_USER_ENV} to it.\n"
        if users
        else f"# export {DEFAULT_USER_ENV} (the user) and {password_env} (its password).\n"
    )
    text = (
        "# qmaudit inventory written by `qmaudit inventory from-ansible` from\n"
        f"# {_comment(source)} (group {_comment(repr(group))}). Read statically: nothing of the\n"
        "# inventory ran and no template or lookup was evaluated. Check the cluster name: it\n"
        "# is the group name unless qm_cluster is set. No password was copied: credentials\n"
        "# name environment variables.\n"
        f"{user_note}"
        f"{body}"
        "vms:\n"
        "  # Empty on purpose: the audit moves only the VMs listed here (fnmatch patterns).\n"
        "  # Nothing is moved until someone says which VMs may be, e.g. ['qm-test-*'].\n"
        "  allow: []\n"
    )
    # Comments carry no data: the document read back is exactly the one emitted.
    if yaml.safe_load(text) != {**doc, "vms": {"allow": []}}:
        raise InputError(source, "$", "the inventory could not be written faithfully")
    return text, notes


def convert_inventory(
    source: str, group: str, output: Path, force: bool = False, allow_dynamic: bool = False
) -> int:
    """Read the Ansible inventory, write the qmaudit inventory (validated). Exit code."""
    from harness.targets.inventory import parse_inventory_text

    if output.exists() and not force:
        raise InputError(str(output), "", "exists already (use --force to overwrite)")
    if allow_dynamic:
        print(
            f"qmaudit inventory: --allow-dynamic: Ansible reads {_comment(source)} and RUNS "
            "its inventory plugins and scripts (code from the inventory)",
            file=sys.stderr,
        )
    hosts = load_hosts(Path(source), group, allow_dynamic)
    text, notes = render_inventory(hosts, group, source)
    parse_inventory_text(text, str(output))
    atomic_write(output, text.encode("utf-8"))
    for note in notes:
        print(f"qmaudit inventory: {note}")
    print(
        f"qmaudit inventory: wrote {output} ({len(hosts) - len(notes)} nodes); vms.allow is empty"
    )
    return 0
