"""Bounded, strict YAML reading for every user file (topology, inventory, profile, waivers)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from harness.errors import InputError
from harness.redact import note_document

# Limits that keep every check under a second and ~100 MB whatever the input: the largest real
# file (a topology) is a few KiB, so these leave ample room while refusing hostile input early.
MAX_BYTES = 1024 * 1024  # checked before parsing
MAX_DEPTH = 32  # nested mappings/sequences
MAX_NODES = 20_000  # scalars, mappings and sequences in one document (a 100-VM lab: ~4000)
# Numbers beyond 2^53 lose precision as JSON numbers and overflow the arithmetic of the model
# (memory in bytes, throughputs, clock offsets, timestamps); schemas narrow ranges further.
MAX_MAGNITUDE = 2**53
_MAX_INT_TEXT = 24  # an int literal longer than this is out of range anyway: no int() of it

if yaml.__with_libyaml__:  # the C parser: ~10x faster on large input
    from yaml._yaml import CParser as _Parser
else:  # pragma: no cover - every CI image ships PyYAML with libyaml
    from yaml.parser import Parser as _Parser  # type: ignore[assignment]


class RefusedInput(Exception):
    """The document breaks a limit: carries the JSON path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class OutOfRange:
    """Placeholder for an integer literal too long to convert: reported with its JSON path."""

    def __init__(self, text: str) -> None:
        self.digits = len(text)


def json_path(parts: list[str | int]) -> str:
    """A JSONPath-like string ($.vms[2].owner) from keys and indexes."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class StrictLoader(Composer, _Parser, SafeConstructor, Resolver):
    """Safe loader: no anchors or aliases, bounded depth and size, duplicate keys rejected.

    The Python Composer (listed first) replaces the C composer so that every node passes
    compose_node, where anchors, aliases, depth and node count are checked before anything is
    built: an alias bomb is refused at its first anchor, deep nesting at depth MAX_DEPTH + 1.
    """

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        Composer.__init__(self)
        self._path: list[str | int] = []
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        label: str | int | None = None
        if isinstance(index, int):
            label = index
        elif isinstance(index, ScalarNode):
            label = str(index.value)
        elif parent is not None and index is None:
            label = "<key>"
        if label is not None:
            self._path.append(label)
        try:
            where = json_path(self._path)
            if isinstance(event, yaml.AliasEvent):
                raise RefusedInput(where, "YAML aliases (*name) are not allowed")
            if getattr(event, "anchor", None) is not None:
                raise RefusedInput(where, "YAML anchors (&name) are not allowed")
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise RefusedInput(where, f"more than {MAX_NODES} values in one file")
            nested = isinstance(event, yaml.CollectionStartEvent)
            if nested and len(self._path) >= MAX_DEPTH:
                raise RefusedInput(where, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            if label is not None:
                self._path.pop()


def _construct_mapping(loader: StrictLoader, node: MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(loader.construct_pairs(node))


def _construct_timestamp(loader: StrictLoader, node: ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _construct_int(loader: StrictLoader, node: ScalarNode) -> int | OutOfRange:
    text = str(loader.construct_scalar(node))
    # int() of a huge literal costs quadratic time (and Python refuses > 4300 digits).
    if len(text.replace("_", "").lstrip("+-")) > _MAX_INT_TEXT:
        return OutOfRange(text)
    return int(SafeConstructor.construct_yaml_int(loader, node))


# add_constructor's stub only admits PyYAML's own loader classes.
_loader_class: Any = StrictLoader
_loader_class.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_loader_class.add_constructor("tag:yaml.org,2002:int", _construct_int)
# YAML 1.1 reads Off/On/Yes/No as booleans, which would turn a VM named `No` into False:
# only true/false are booleans here (as in YAML 1.2).
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_loader_class.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def check_numbers(value: Any, path: list[str | int] | None = None) -> None:
    """RefusedInput at the first NaN, infinity or number beyond 2^53 (depth is bounded)."""
    here = path if path is not None else []
    if isinstance(value, OutOfRange):
        raise RefusedInput(json_path(here), f"number out of range ({value.digits} digits)")
    if isinstance(value, float) and not math.isfinite(value):
        reason = "NaN, infinities and numbers that overflow are not allowed"
        raise RefusedInput(json_path(here), reason)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if abs(value) > MAX_MAGNITUDE:
            raise RefusedInput(json_path(here), "number out of range (more than 2^53)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_numbers(key, [*here, "<key>"])
            check_numbers(item, [*here, str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_numbers(item, [*here, index])


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with StrictLoader within the limits; InputError naming the place."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InputError(source, "$", f"larger than the limit of {MAX_BYTES} bytes")
    loader = StrictLoader(text)
    try:
        data = loader.get_single_data()
        note_document(source, data)  # before any check can quote a value of it
        check_numbers(data)
        return data
    except RefusedInput as exc:
        raise InputError(source, exc.path, exc.reason) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "$"
        raise InputError(source, where, f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(source, "$", f"YAML error: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a float or base-60 literal
        raise InputError(source, "$", f"unreadable value: {type(exc).__name__}") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file: missing, unreadable, oversized or empty files are InputErrors."""
    source = str(path)
    try:
        # Opened without blocking: a FIFO nobody writes to must not hang the check.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            # Refuse by size before reading; read at most one byte more than the limit in case
            # the size lied (a pipe, /dev/zero, a file still growing).
            if os.fstat(fh.fileno()).st_size > MAX_BYTES:
                raise InputError(source, "$", f"larger than the limit of {MAX_BYTES} bytes")
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InputError(source, "$", f"larger than the limit of {MAX_BYTES} bytes")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise InputError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(source, "", f"cannot read the file: {reason}") from None
    if not text.strip():
        raise InputError(source, "$", "the file is empty")
    return parse_yaml(text, source)
