"""ProbeCommands: the modules, commands and parameters a probe script uses, read from its text.

Modules come from its `Import-QmModule 'X'` / `Import-Module -Name X` lines (the lab's cost model
charges their import). Commands and parameters come from the tree-sitter-powershell parse: every
command invocation by literal name, minus the functions the script defines itself; named
parameters as written, a positional first argument as the parameter it binds to (POSITIONAL),
a splatted hashtable through the keys the script gives it. What cannot be known statically
(a command named by a variable, an unresolved splat, a positional argument of a command not in
POSITIONAL) is listed in `unknown`, so the JEA role generated from it is never silently short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.probes.lint import _parse, _text, _walk

# `Import-QmModule 'X'` and `Import-Module -Name X` with a literal name, as the probes write them.
_IMPORT_RE = re.compile(
    r"^\s*Import-(?:Qm)?Module\s+(?:-Name\s+)?['\"]?([A-Za-z][A-Za-z0-9.-]*)['\"]?(?=\s|$)",
    re.IGNORECASE | re.MULTILINE,
)
_FUNCTION_RE = re.compile(r"^\s*function\s+([A-Za-z][\w-]*)", re.IGNORECASE | re.MULTILINE)
# The parameter a first positional argument binds to (Windows PowerShell 5.1 cmdlet help).
POSITIONAL: dict[str, str] = {
    "where-object": "FilterScript",
    "foreach-object": "Process",
    "sort-object": "Property",
    "select-object": "Property",
    "test-path": "Path",
    "get-item": "Path",
    "get-childitem": "Path",
    "get-itemproperty": "Path",
    "import-module": "Name",
    "import-qmmodule": "Name",
    "convertto-json": "InputObject",
    "convertfrom-json": "InputObject",
    "convertto-securestring": "String",
    "get-service": "Name",
    "get-module": "Name",
}
# Parameters every cmdlet has; JEA never hides them, so a role does not list them.
COMMON_PARAMETERS = frozenset(
    {
        "verbose", "debug", "erroraction", "warningaction", "informationaction", "errorvariable",
        "warningvariable", "informationvariable", "outvariable", "outbuffer", "pipelinevariable",
    }
)  # fmt: skip


# The parameter pipeline input binds to, for the cmdlets the probes pipe into (5.1 help).
PIPELINE: dict[str, str] = {
    "where-object": "InputObject",
    "foreach-object": "InputObject",
    "sort-object": "InputObject",
    "select-object": "InputObject",
    "convertto-json": "InputObject",
    "measure-object": "InputObject",
}


@dataclass
class CommandUse:
    """The commands of a script with the parameters each is called with (names as written).

    `whole` names the commands that take pipeline input through a parameter not in PIPELINE:
    a role must show them with every parameter, or the pipeline could not bind.
    """

    commands: dict[str, set[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    whole: set[str] = field(default_factory=set)

    def add(self, command: str, parameter: str | None = None) -> None:
        key = next((k for k in self.commands if k.lower() == command.lower()), command)
        params = self.commands.setdefault(key, set())
        known = parameter and any(p.lower() == parameter.lower() for p in params)
        if parameter and parameter.lower() not in COMMON_PARAMETERS and not known:
            params.add(parameter)

    def merge(self, other: CommandUse) -> None:
        for command, params in other.commands.items():
            self.add(command)
            for param in params:
                self.add(command, param)
        self.unknown += [u for u in other.unknown if u not in self.unknown]
        self.whole |= other.whole


def modules_in(script: str) -> tuple[str, ...]:
    """The modules a probe script imports by literal name (FailoverClusters, Hyper-V...)."""
    seen: dict[str, str] = {}
    for match in _IMPORT_RE.finditer(script):
        seen.setdefault(match.group(1).lower(), match.group(1))
    return tuple(seen.values())


def defined_functions(script: str) -> set[str]:
    """Names of the functions the script defines (lower case): not commands of the session."""
    return {m.group(1).lower() for m in _FUNCTION_RE.finditer(script)}


def _splat_keys(script: str, variable: str) -> set[str] | None:
    """Keys a script gives hashtable `$variable` (`$v = @{ K = ... }`, `$v.K = ...`)."""
    keys: set[str] = set()
    literal = re.search(rf"\${re.escape(variable)}\s*=\s*@\{{([^}}]*)\}}", script, re.IGNORECASE)
    if literal is None:
        return None
    keys |= set(re.findall(r"(?:^|[;{\s])([A-Za-z]\w*)\s*=", literal.group(1)))
    keys |= set(re.findall(rf"\${re.escape(variable)}\.([A-Za-z]\w*)\s*=", script, re.IGNORECASE))
    return keys


def commands_in(script: str) -> CommandUse:
    """Every command the script calls by name, with its parameters (see the module docstring)."""
    data, root = _parse(script)
    own = defined_functions(script)
    use = CommandUse()
    for node in _walk(root):
        if node.type != "command":
            continue
        name_node = next((c for c in node.children if c.type == "command_name"), None)
        if name_node is None:
            use.unknown.append(f"a command named by an expression: {_text(data, node)[:60]!r}")
            continue
        name = _text(data, name_node)
        if name.lower() in own:
            continue
        use.add(name)
        parent = node.parent
        if parent is not None and parent.type == "pipeline_chain" and parent.children[0] != node:
            bound = PIPELINE.get(name.lower())
            if bound is None:
                use.whole.add(name.lower())
            else:
                use.add(name, bound)
        elements = next((c for c in node.children if c.type == "command_elements"), None)
        children = elements.children if elements else []
        parts = [c for c in children if c.type != "command_argument_sep"]
        expecting_value = False
        for index, part in enumerate(parts):
            text = _text(data, part)
            if part.type == "command_parameter":
                parameter = text.lstrip("-").rstrip(":")
                use.add(name, parameter)
                # A switch has no value; otherwise the next element is this parameter's value.
                following = parts[index + 1] if index + 1 < len(parts) else None
                expecting_value = following is not None and following.type != "command_parameter"
                continue
            if expecting_value:
                expecting_value = False
                continue
            if text.startswith("@") and re.fullmatch(r"@[A-Za-z_]\w*", text):
                keys = _splat_keys(script, text[1:])
                if keys is None:
                    use.unknown.append(f"{name}: splat {text} with keys not known statically")
                for key in keys or ():
                    use.add(name, key)
                continue
            positional = POSITIONAL.get(name.lower())
            if positional is None:
                use.unknown.append(f"{name}: positional argument {text[:40]!r}")
            else:
                use.add(name, positional)
    return use
