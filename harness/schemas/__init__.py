"""JSON Schemas shipped with the harness: loading (local $refs only) and validation helpers."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from harness.errors import InputError, ProbeOutputError

SCHEMA_BASE_URI = "https://qmaudit.invalid/schemas/"
_SUFFIX = ".schema.json"


def schema_stems() -> list[str]:
    """Stems of every schema file shipped in this package, sorted."""
    folder = resources.files(__name__)
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in folder.iterdir()
        if entry.name.endswith(_SUFFIX)
    )


@cache
def _load_text(stem: str) -> str:
    if "/" in stem or "\\" in stem or stem not in schema_stems():
        raise KeyError(f"no schema named {stem!r} (known: {', '.join(schema_stems())})")
    return resources.files(__name__).joinpath(f"{stem}{_SUFFIX}").read_text(encoding="utf-8")


@cache
def _load_cached(stem: str) -> dict[str, Any]:
    schema = json.loads(_load_text(stem))
    if not isinstance(schema, dict):
        raise ValueError(f"schema {stem!r} is not a JSON object")
    return schema


def load_schema(stem: str) -> dict[str, Any]:
    """The schema harness/schemas/<stem>.schema.json as a dict (KeyError if there is none).

    Cached: callers must not mutate the returned dict.
    """
    return _load_cached(stem)


def _retrieve(uri: str) -> Resource[Any]:
    # Only our own files: a $ref is never fetched from the network.
    name = uri.removeprefix(SCHEMA_BASE_URI).split("#", 1)[0]
    if not name.endswith(_SUFFIX) or "/" in name:
        raise NoSuchResource(uri)
    try:
        contents = load_schema(name.removesuffix(_SUFFIX))
    except KeyError as exc:
        raise NoSuchResource(uri) from exc
    return Resource.from_contents(contents)


@cache
def _registry() -> Registry[Any]:
    # Every shipped schema registered up front (and crawled once): a retrieving registry would
    # load and wrap the referenced file again on every validation, which dominated probe time.
    resources_ = [
        (f"{SCHEMA_BASE_URI}{stem}{_SUFFIX}", Resource.from_contents(load_schema(stem)))
        for stem in schema_stems()
    ]
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return registry.with_resources(resources_).crawl()


@cache
def _validator(stem: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(stem), registry=_registry())


def _first_error(stem: str, doc: Any) -> ValidationError | None:
    return best_match(_validator(stem).iter_errors(doc))


def _describe(error: ValidationError) -> tuple[str, str]:
    return error.json_path, error.message


def schema_errors(stem: str, doc: Any) -> list[tuple[str, str]]:
    """Every (json_path, message) by which doc fails schema `stem`, in document order."""
    errors = sorted(_validator(stem).iter_errors(doc), key=lambda e: [str(p) for p in e.path])
    return [_describe(error) for error in errors]


def validate_probe_output(probe: str, doc: Any) -> None:
    """Raise ProbeOutputError(probe, json_path, reason) unless doc matches the probe's schema."""
    try:
        error = _first_error(probe, doc)
    except KeyError as exc:
        raise ProbeOutputError(probe, "$", f"no schema for probe {probe!r}") from exc
    if error is not None:
        path, reason = _describe(error)
        raise ProbeOutputError(probe, path, reason)


def validate_document(stem: str, doc: Any, source: str) -> None:
    """Raise InputError(source, json_path, reason) unless doc matches schema `stem`."""
    error = _first_error(stem, doc)
    if error is not None:
        path, reason = _describe(error)
        raise InputError(source, path, reason)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Windows PowerShell's ConvertTo-Json can still write them.
    raise ValueError(f"{name} is not valid JSON")


def parse_probe_output(probe: str, text: str) -> dict[str, Any]:
    """Parse a probe's stdout: exactly one JSON object (BOM and surrounding space allowed)."""
    body = text.removeprefix("\ufeff").strip()
    if not body:
        raise ProbeOutputError(probe, "$", "empty output (expected one JSON object)")
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    try:
        doc, end = decoder.raw_decode(body)
    except json.JSONDecodeError as exc:
        raise ProbeOutputError(probe, "$", f"not JSON: {exc.msg} at char {exc.pos}") from exc
    except ValueError as exc:
        raise ProbeOutputError(probe, "$", f"not JSON: {exc}") from exc
    if body[end:].strip():
        raise ProbeOutputError(
            probe, "$", f"more than one JSON document (extra text at char {end})"
        )
    if not isinstance(doc, dict):
        raise ProbeOutputError(probe, "$", f"expected a JSON object, got {type(doc).__name__}")
    validate_probe_output(probe, doc)
    return doc
