"""Offline checks of PowerShell text: syntax errors, write verbs, writes to the cluster hive."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

# Verbs whose cmdlets change state. Broader than the project's minimum list on purpose: a read
# probe has no reason to use any of them.
WRITE_VERBS: frozenset[str] = frozenset(
    {
        "set", "new", "remove", "move", "suspend", "resume", "stop", "start", "restart",
        "clear", "rename", "copy", "add", "disable", "enable", "register", "unregister",
        "update", "reset", "install", "uninstall", "mount", "dismount", "initialize",
        "grant", "revoke", "block", "unblock", "publish", "unpublish", "save", "restore",
        "checkpoint", "merge", "repair", "optimize", "resize", "lock", "unlock", "send",
    }
)  # fmt: skip
# Commands without a write verb that still change state, and aliases of write cmdlets.
WRITE_COMMANDS: frozenset[str] = frozenset(
    {
        "invoke-cimmethod", "invoke-wmimethod", "invoke-expression", "iex", "out-file",
        "format-volume", "tee-object", "tee", "export-csv", "export-clixml", "regedit",
        "regedit.exe", "cluster", "cluster.exe", "sp", "si", "ni", "ri", "rm", "rmdir", "rd",
        "del", "erase", "mv", "move", "mi", "cp", "copy", "cpi", "ren", "rni", "md", "mkdir",
        "kill", "spps", "spsv", "saps", "start", "sasv", "clc", "cli", "clp", "clv", "sv",
        "set", "mount", "sc", "sc.exe", "ac", "shutdown", "shutdown.exe", "wmic", "wmic.exe",
    }
)  # fmt: skip
_REG_EXE = frozenset({"reg", "reg.exe"})
_REG_WRITE_OPS = frozenset({"add", "delete", "import", "copy", "restore", "load", "unload"})
# .NET / WMI / CIM methods that write (registry keys, WMI instances).
WRITE_METHODS: frozenset[str] = frozenset(
    {
        "setvalue", "deletevalue", "createsubkey", "deletesubkey", "deletesubkeytree",
        "setaccesscontrol", "put", "delete", "invokemethod", "modifyinstance",
        "createinstance", "deleteinstance", "flush",
    }
)  # fmt: skip
_REGISTRY_WRITE_COMMANDS = frozenset(
    {
        "set-itemproperty", "new-itemproperty", "remove-itemproperty", "rename-itemproperty",
        "copy-itemproperty", "move-itemproperty", "clear-itemproperty", "set-item", "new-item",
        "remove-item", "rename-item", "copy-item", "move-item", "clear-item", "set-acl",
        "sp", "si", "ni", "ri", "rm", "del", "erase", "rni", "ren", "cpi", "copy", "mi",
        "mv", "move", "cli", "clp", "md", "mkdir", "reg", "reg.exe", "regedit", "regedit.exe",
        "set-clusterparameter",
    }
)  # fmt: skip
_CLUSTER_HIVE_RE = re.compile(
    r"(HKLM:?|HKEY_LOCAL_MACHINE)[\\/]+Cluster(?![A-Za-z0-9_])|"
    r"Registry::(HKLM|HKEY_LOCAL_MACHINE)[\\/]+Cluster(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
_OPEN_SUBKEY_CLUSTER_RE = re.compile(r"""OpenSubKey\s*\(\s*['"]Cluster\b""", re.IGNORECASE)
_VERB_RE = re.compile(r"([A-Za-z]+)-[A-Za-z0-9_]+")


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


def _parse(text: str) -> tuple[bytes, Node]:
    data = text.encode("utf-8")
    return data, _parser().parse(data).root_node


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(data: bytes, node: Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _position(data: bytes, node: Node) -> str:
    row, column_bytes = node.start_point
    line_start = data.rfind(b"\n", 0, node.start_byte) + 1
    column = len(data[line_start : line_start + column_bytes].decode("utf-8", errors="replace"))
    return f"{row + 1}:{column + 1}"


def parse_errors(text: str) -> list[str]:
    """Syntax problems found by tree-sitter-powershell, as 'line:column: message' (1-based)."""
    data, root = _parse(text)
    if not root.has_error:
        return []
    problems: list[str] = []
    for node in _walk(root):
        if node.is_missing:
            problems.append(f"{_position(data, node)}: missing {node.type!r}")
        elif node.is_error:
            snippet = _text(data, node).strip().splitlines()
            near = f" near {snippet[0][:40]!r}" if snippet else ""
            problems.append(f"{_position(data, node)}: syntax error{near}")
    return problems or ["1:1: syntax error"]


def _unquote(literal: str) -> str:
    literal = literal.strip()
    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "'\"":
        return literal[1:-1]
    return literal


def _base_name(name: str) -> str:
    return name.lower().replace("/", "\\").rsplit("\\", 1)[-1]


def _is_write_command(name: str) -> bool:
    base = _base_name(name)
    if base in WRITE_COMMANDS:
        return True
    match = _VERB_RE.fullmatch(base)
    return bool(match and match.group(1) in WRITE_VERBS)


def _command_findings(data: bytes, command: Node) -> Iterator[tuple[str, str]]:
    """(kind, description) for one command node: 'command' or 'dynamic' invocations."""
    name_node = next((c for c in command.children if c.type == "command_name"), None)
    if name_node is not None:
        name = _text(data, name_node)
        if _is_write_command(name):
            yield "command", name
        elif _base_name(name) in _REG_EXE:
            words = [
                _unquote(_text(data, c)).lower()
                for c in _walk(command)
                if c.type in ("generic_token", "string_literal")
            ]
            if words and words[0] in _REG_WRITE_OPS:
                yield "command", f"{name} {words[0]}"
        return
    expr = next((c for c in command.children if c.type == "command_name_expr"), None)
    if expr is None:
        return
    # `& Remove-Item` or `. .\x.ps1`: a plain name after the call operator.
    name_types = ("command_name", "path_command_name")
    inner = next((c for c in expr.children if c.type in name_types), None)
    if inner is not None and not any(c.type == "variable" for c in _walk(inner)):
        if _is_write_command(_text(data, inner)):
            yield "command", _text(data, inner)
        return
    # `& 'Set-Item'` or `& "Remove-Item"`: the command name is hidden in a string.
    literal = next((c for c in _walk(expr) if c.type == "string_literal"), None)
    if literal is not None:
        name = _unquote(_text(data, literal))
        if _is_write_command(name) or _base_name(name) in _REG_EXE:
            yield "dynamic", f"& {name} (invoked through a string)"


def _method_findings(data: bytes, node: Node) -> Iterator[str]:
    """Write methods called on objects: .SetValue(, .Put(, writable OpenSubKey(..., $true)."""
    members = [c for c in node.children if c.type == "member_name"]
    if not members or not any(c.type == "argument_list" for c in node.children):
        return
    method = _text(data, members[-1]).strip()
    lowered = method.lower()
    if lowered in WRITE_METHODS:
        yield f".{method}()"
    elif lowered == "opensubkey":
        # OpenSubKey(name, writable): any second argument may open the key for writing.
        args = next(c for c in node.children if c.type == "argument_list")
        lists = [c for c in args.children if c.type == "argument_expression_list"]
        arg_count = (
            sum(1 for c in lists[0].children if c.type == "argument_expression") if lists else 0
        )
        if arg_count >= 2:
            yield f".{method}(..., writable)"


def write_verbs(text: str) -> list[str]:
    """Write commands, registry writes and write methods used in the script (not in strings)."""
    data, root = _parse(text)
    found: list[str] = []
    for node in _walk(root):
        if node.type == "command":
            found.extend(description for _kind, description in _command_findings(data, node))
        elif node.type == "invokation_expression":
            found.extend(_method_findings(data, node))
    return found


def _code_text(data: bytes, root: Node) -> str:
    """The script with comments blanked out, so a hive named in a comment does not count."""
    chunks = bytearray(data)
    for node in _walk(root):
        if node.type == "comment":
            chunks[node.start_byte : node.end_byte] = b" " * (node.end_byte - node.start_byte)
    return chunks.decode("utf-8", errors="replace")


def _registry_writes(data: bytes, root: Node) -> list[str]:
    writes: list[str] = []
    for node in _walk(root):
        if node.type == "command":
            for _kind, description in _command_findings(data, node):
                first = description.removeprefix("& ").split(" ", 1)[0].lower()
                if first in _REGISTRY_WRITE_COMMANDS:
                    writes.append(description)
        elif node.type == "invokation_expression":
            writes.extend(_method_findings(data, node))
    return writes


def writes_cluster_hive(text: str) -> bool:
    """True when the script may write HKLM\\Cluster (the cluster database) in any spelling.

    Conservative: a registry write anywhere in a script that names the cluster hive anywhere
    outside comments counts, because a path held in a variable cannot be followed statically.
    Set-ClusterParameter counts too: it writes HKLM\\Cluster\\Resources\\<id>\\Parameters.
    """
    data, root = _parse(text)
    writes = _registry_writes(data, root)
    if any(w.lower().startswith("set-clusterparameter") for w in writes):
        return True
    if not writes:
        return False
    code = _code_text(data, root)
    return bool(_CLUSTER_HIVE_RE.search(code) or _OPEN_SUBKEY_CLUSTER_RE.search(code))
