"""Safe YAML reading for user files: duplicate keys rejected, only true/false are booleans."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from harness.errors import InputError


class StrictLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate keys and keeps timestamps as strings."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(loader.construct_pairs(node))


def _construct_timestamp(loader: StrictLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads Off/On/Yes/No as booleans, which would turn a VM named `No` into False:
# only true/false are booleans here (as in YAML 1.2).
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with StrictLoader; syntax errors are InputErrors naming line and column."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # StrictLoader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "$"
        raise InputError(source, where, f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(source, "$", f"YAML error: {exc}") from None


def read_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file: missing, unreadable or empty files are InputErrors."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(source, "", f"cannot read the file: {reason}") from None
    if not text.strip():
        raise InputError(source, "$", "the file is empty")
    return parse_yaml(text, source)
