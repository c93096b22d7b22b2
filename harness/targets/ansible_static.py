"""Static Ansible inventories (INI, YAML, `ansible-inventory --list` JSON) read without Ansible.

Nothing of the inventory runs: no inventory plugin, no script, no Jinja template or lookup is
evaluated (a templated value stays literal text and is refused where it would be copied).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.boundedfile import read_bounded
from harness.errors import InputError
from harness.yamlfile import MAX_BYTES, StrictLoader

MAX_HOSTS = 10_000  # host ranges expand to at most this many hosts in one file
MAX_GROUPS = 10_000
MAX_VALUE = 64 * 1024  # one INI value (literal_eval of a bigger one is not attempted)
MAX_VAR_FILES = 256  # group_vars/host_vars files read per conversion
MAX_VAR_BYTES = 4 * 1024 * 1024  # ... and their bytes in all
YAML_EXT = (".yaml", ".yml")
_RANGE = re.compile(r"\[([^\]:]*):([^\]:]*)(?::(\d+))?\]")
_TEMPLATE = ("{{", "{%", "{#")


class VaultedValue(str):
    """A `!vault` value: encrypted, never read nor copied."""


class _AnsibleYamlLoader(StrictLoader):
    """The bounded strict loader, plus Ansible's `!vault` and `!unsafe` tags (data, not code)."""


_ansible_loader: Any = _AnsibleYamlLoader
_ansible_loader.add_constructor(
    "!vault", lambda loader, node: VaultedValue(loader.construct_scalar(node))
)
_ansible_loader.add_constructor("!unsafe", lambda loader, node: str(loader.construct_scalar(node)))


@dataclass
class Group:
    """One inventory group: its own hosts (with host variables), variables and children."""

    name: str
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


def is_template(value: Any) -> bool:
    """Whether a value holds Jinja syntax that Ansible would evaluate (we never do)."""
    return isinstance(value, str) and any(mark in value for mark in _TEMPLATE)


def _parse_yaml(text: str, source: str) -> Any:
    if len(text) > MAX_BYTES:
        raise InputError(source, "$", f"larger than the limit of {MAX_BYTES} bytes")
    loader = _AnsibleYamlLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "$"
        raise InputError(source, where, f"YAML syntax error: {exc.problem or exc}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise InputError(source, getattr(exc, "path", "$"), f"YAML error: {reason}") from None
    finally:
        loader.dispose()


def _expand(pattern: str, source: str, where: str) -> list[str]:
    """Ansible host ranges: web[01:03].corp, db-[a:c]; bounded."""
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    first, last, step_text = match.group(1), match.group(2), match.group(3)
    step = int(step_text) if step_text else 1
    if step < 1:
        raise InputError(source, where, f"host range {pattern!r}: the step must be positive")
    if first.isdigit() and last.isdigit():
        if int(last) - int(first) > MAX_HOSTS * step:
            raise InputError(source, where, f"host range {pattern!r}: more than {MAX_HOSTS} hosts")
        width = len(first) if first.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(first), int(last) + 1, step)]
    elif len(first) == 1 and len(last) == 1 and first in string.ascii_letters:
        letters = string.ascii_letters
        if last not in letters or letters.index(last) < letters.index(first):
            raise InputError(source, where, f"host range {pattern!r} is not a range")
        items = list(letters[letters.index(first) : letters.index(last) + 1 : step])
    else:
        raise InputError(source, where, f"host range {pattern!r} is not a range Ansible knows")
    out: list[str] = []
    for item in items:
        out += _expand(pattern[: match.start()] + item + pattern[match.end() :], source, where)
        if len(out) > MAX_HOSTS:
            raise InputError(source, where, f"host range {pattern!r}: more than {MAX_HOSTS} hosts")
    return out


def _ini_value(text: str) -> Any:
    """Ansible's INI rule: a Python literal when it is one, else the text (no evaluation)."""
    if len(text) > MAX_VALUE:
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, str | int | float | bool | list | dict | tuple) else text


def _group(groups: dict[str, Group], name: str, source: str, where: str) -> Group:
    if name not in groups:
        if len(groups) >= MAX_GROUPS:
            raise InputError(source, where, f"more than {MAX_GROUPS} groups")
        groups[name] = Group(name)
    return groups[name]


def parse_ini(text: str, source: str) -> dict[str, Group]:
    """Groups of an Ansible INI inventory: [g], [g:vars], [g:children] sections."""
    groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"line {number}"
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(source, where, "a section header must end with ']'")
            section, _, kind = line[1:-1].strip().partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children") or not section:
                raise InputError(source, where, f"unknown section kind {kind!r}")
            _group(groups, section, source, where)
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InputError(source, where, "expected key=value in a :vars section")
            groups[section].vars[key.strip()] = _ini_value(value.strip())
        elif kind == "children":
            child = line.split()[0]
            _group(groups, child, source, where)
            if child not in groups[section].children:
                groups[section].children.append(child)
        else:
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as exc:
                raise InputError(source, where, f"cannot split the host line: {exc}") from None
            if not tokens:
                continue
            host_vars: dict[str, Any] = {}
            for token in tokens[1:]:
                key, sep, value = token.partition("=")
                if not sep:
                    raise InputError(source, where, "expected key=value after the host name")
                host_vars[key] = _ini_value(value)
            pattern, port = tokens[0], None
            outside = re.sub(r"\[[^\]]*\]", "", pattern)  # ranges hold colons too
            with_port = re.fullmatch(r"(.+):(\d+)", pattern)
            if with_port and outside.count(":") == 1:
                pattern, port = with_port.group(1), with_port.group(2)
            for name in _expand(pattern, source, where):
                values = dict(host_vars)
                if port:
                    values.setdefault("ansible_port", _ini_value(port))
                groups[section].hosts.setdefault(name, {}).update(values)
                if sum(len(g.hosts) for g in groups.values()) > MAX_HOSTS:
                    raise InputError(source, where, f"more than {MAX_HOSTS} hosts")
    return groups


def _yaml_group(
    groups: dict[str, Group], name: str, node: Any, source: str, path: str, depth: int
) -> None:
    if depth > 32:
        raise InputError(source, path, "groups nested deeper than 32 levels")
    group = _group(groups, str(name), source, path)
    if node is None:
        return
    if not isinstance(node, dict):
        raise InputError(source, path, "a group must be a mapping (hosts, vars, children)")
    for key in node:
        if key not in ("hosts", "vars", "children"):
            raise InputError(source, f"{path}.{key}", "unknown group key (hosts, vars, children)")
    hosts = node.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise InputError(source, f"{path}.hosts", "hosts must be a mapping of host names")
    for pattern, values in hosts.items():
        if values is not None and not isinstance(values, dict):
            raise InputError(source, f"{path}.hosts.{pattern}", "host variables must be a mapping")
        for host in _expand(str(pattern), source, f"{path}.hosts"):
            group.hosts.setdefault(host, {}).update(values or {})
    gvars = node.get("vars") or {}
    if not isinstance(gvars, dict):
        raise InputError(source, f"{path}.vars", "vars must be a mapping")
    group.vars.update(gvars)
    children = node.get("children") or {}
    if not isinstance(children, dict):
        raise InputError(source, f"{path}.children", "children must be a mapping of groups")
    for child, child_node in children.items():
        if str(child) not in group.children:
            group.children.append(str(child))
        _yaml_group(groups, child, child_node, source, f"{path}.children.{child}", depth + 1)


def parse_yaml_inventory(doc: Any, source: str) -> dict[str, Group]:
    """Groups of an Ansible YAML inventory; a plugin configuration is refused (it runs code)."""
    if not isinstance(doc, dict):
        raise InputError(source, "$", "not an Ansible YAML inventory (a mapping of groups)")
    if "plugin" in doc:
        reason = (
            f"inventory plugin {str(doc['plugin'])[:80]!r} refused: plugins other than the static"
            " INI/YAML formats run code (use --allow-dynamic to let Ansible run it)"
        )
        raise InputError(source, "$.plugin", reason)
    groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
    for name, node in doc.items():
        _yaml_group(groups, name, node, source, f"$.{name}", 0)
    return groups


def parse_list_json(doc: dict[str, Any], source: str) -> dict[str, Group]:
    """Groups of `ansible-inventory --list` output."""
    meta = doc.get("_meta") or {}
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    if not isinstance(hostvars, dict):
        hostvars = {}
    groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
    for name, node in doc.items():
        if name == "_meta":
            continue
        group = _group(groups, str(name), source, f"$.{name}")
        if isinstance(node, list):  # the old script form: a bare list of hosts
            node = {"hosts": node}
        if not isinstance(node, dict):
            raise InputError(source, f"$.{name}", "a group must be an object")
        hosts, gvars, children = node.get("hosts"), node.get("vars"), node.get("children")
        for key, value, kind in (("hosts", hosts, list), ("vars", gvars, dict)):
            if value is not None and not isinstance(value, kind):
                raise InputError(source, f"$.{name}.{key}", f"must be a {kind.__name__}")
        if children is not None and not isinstance(children, list | dict):
            raise InputError(source, f"$.{name}.children", "must be a list")
        for host in hosts or []:
            values = hostvars.get(str(host))
            group.hosts[str(host)] = dict(values) if isinstance(values, dict) else {}
        group.vars.update(gvars or {})
        group.children += [str(c) for c in children or [] if str(c) not in group.children]
        if len(group.hosts) > MAX_HOSTS:
            raise InputError(source, f"$.{name}.hosts", f"more than {MAX_HOSTS} hosts")
    return groups


def _refuse_executable(path: Path, data: bytes, source: str) -> None:
    executable = sys.platform != "win32" and os.access(path, os.X_OK)
    if executable or data.startswith(b"#!"):
        reason = (
            "an executable inventory is a script: refused, nothing was run "
            "(use --allow-dynamic to let Ansible run it)"
        )
        raise InputError(source, "", reason)


def load_groups(path: Path) -> dict[str, Group]:
    """The groups of a static inventory file (format from its extension, then its content)."""
    source = str(path)
    if path.is_dir():
        reason = "a directory of inventory sources: give one static file (or use --allow-dynamic)"
        raise InputError(source, "", reason)
    data = read_bounded(path, MAX_BYTES, what="inventory")
    _refuse_executable(path, data, source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not UTF-8 text") from None
    if not text.strip():
        raise InputError(source, "$", "the file is empty")
    if text.lstrip().startswith("{") or path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(source, "$", f"not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise InputError(source, "$", "not an `ansible-inventory --list` object")
        if "plugin" in doc:
            return parse_yaml_inventory(doc, source)
        if "_meta" in doc:
            return parse_list_json(doc, source)
        return parse_yaml_inventory(doc, source)
    if path.suffix.lower() in YAML_EXT:
        return parse_yaml_inventory(_parse_yaml(text, source), source)
    first = next(
        (ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip()[0] not in "#;"), ""
    )
    if first.startswith("[") or "=" in first or ":" not in first:
        return parse_ini(text, source)
    return parse_yaml_inventory(_parse_yaml(text, source), source)


def _var_files(folder: Path, name: str) -> list[Path]:
    """group_vars/<name>(.yml|.yaml|.json) and the files of group_vars/<name>/, sorted."""
    found = [folder / f"{name}{ext}" for ext in ("", ".yml", ".yaml", ".json")]
    files = [p for p in found if p.is_file()]
    sub = folder / name
    if sub.is_dir():
        files += sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith("."))
    return files


def _read_var_file(path: Path, budget: list[int]) -> dict[str, Any]:
    source = str(path)
    if budget[0] <= 0:
        raise InputError(source, "", f"variables files larger than {MAX_VAR_BYTES} bytes in all")
    data = read_bounded(path, min(MAX_BYTES, budget[0]), what="variables file")
    budget[0] -= len(data)
    text = data.decode("utf-8", "replace")
    try:
        doc = json.loads(text) if path.suffix == ".json" else _parse_yaml(text, source)
    except (ValueError, RecursionError) as exc:
        raise InputError(source, "$", f"not valid JSON: {type(exc).__name__}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(source, "$", "a variables file must be a mapping")
    return doc


def _depths(groups: dict[str, Group]) -> dict[str, int]:
    """Each group's depth below `all` (Ansible merges parents before children)."""
    parents: dict[str, list[str]] = {}
    for group in groups.values():
        for child in group.children:
            parents.setdefault(child, []).append(group.name)
    depth: dict[str, int] = {}

    def of(name: str, trail: frozenset[str]) -> int:
        if name in depth:
            return depth[name]
        ups = [p for p in parents.get(name, []) if p not in trail]
        value = 0 if name == "all" else 1 + max((of(p, trail | {name}) for p in ups), default=0)
        depth[name] = value
        return value

    for name in groups:
        of(name, frozenset())
    return depth


@dataclass
class StaticHost:
    """A host of the chosen group with its merged variables (never templated)."""

    name: str
    vars: dict[str, Any]


def hosts_of(groups: dict[str, Group], group: str, inventory: Path) -> list[StaticHost]:
    """The hosts of `group` and its descendants, variables merged the way Ansible merges them:
    all < parent groups < child groups (inventory, then group_vars/) < host (then host_vars/)."""
    source = str(inventory)
    if group not in groups or (group in ("all", "ungrouped") and not groups[group].hosts):
        known = ", ".join(sorted(g for g in groups if g not in ("all", "ungrouped")))
        raise InputError(source, group, f"no such group in the inventory (groups: {known})")
    member_of: dict[str, set[str]] = {}
    names: list[str] = []
    pending, seen = [group], set()
    while pending:
        name = pending.pop(0)
        if name in seen or name not in groups:
            continue
        seen.add(name)
        for host in groups[name].hosts:
            if host not in names:
                names.append(host)
        pending += groups[name].children
    for g in groups.values():
        for host in g.hosts:
            member_of.setdefault(host, set()).add(g.name)
    # Ancestors of each group, so a host inherits the variables of its groups' parents too.
    parents: dict[str, set[str]] = {}
    for g in groups.values():
        for child in g.children:
            parents.setdefault(child, set()).add(g.name)
    depth = _depths(groups)
    folder = inventory.parent
    budget = [MAX_VAR_FILES]
    byte_budget = [MAX_VAR_BYTES]

    def file_vars(kind: str, name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        base = folder / kind
        if not base.is_dir() or any(ch in name for ch in "/\\") or name in (".", ".."):
            return merged
        for path in _var_files(base, name):
            budget[0] -= 1
            if budget[0] < 0:
                raise InputError(str(base), "", f"more than {MAX_VAR_FILES} variables files")
            merged.update(_read_var_file(path, byte_budget))
        return merged

    hosts = []
    for host in names:
        chain, todo = {"all"}, list(member_of.get(host, ()))
        while todo:
            name = todo.pop()
            if name not in chain:
                chain.add(name)
                todo += list(parents.get(name, ()))
        merged: dict[str, Any] = {}
        for name in sorted(chain, key=lambda n: (depth.get(n, 0), n)):
            merged.update(groups[name].vars if name in groups else {})
            merged.update(file_vars("group_vars", name))
        for name in sorted(member_of.get(host, ())):
            merged.update(groups[name].hosts.get(host) or {})
        merged.update(file_vars("host_vars", host))
        hosts.append(StaticHost(host, merged))
    return hosts
