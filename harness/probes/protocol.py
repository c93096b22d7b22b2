"""The probe protocol: build a probe script (header, base64 JSON parameters, body) and parse it."""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

ProbeKind = Literal["read", "action", "lab-only"]

PROBE_DIR = Path(__file__).resolve().parent
# Helpers every probe may call, sent between the parameter line and the body (definitions only).
PROBE_LIB = PROBE_DIR / "lib" / "common.ps1"

_HEADER_PREFIX = "# qmaudit-probe: "
_KIND_PREFIX = "# qmaudit-kind: "
_KINDS: tuple[ProbeKind, ...] = ("read", "action", "lab-only")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
# The parameter line is fixed text around one base64 literal; base64 characters cannot close the
# single-quoted PowerShell string, which is why parameters can never become PowerShell source.
_PARAMS_PREFIX = "$Params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('"
_PARAMS_SUFFIX = "')) | ConvertFrom-Json"
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def probe_names() -> list[str]:
    """Names of every probe shipped in PROBE_DIR, sorted."""
    return sorted(p.stem for p in PROBE_DIR.glob("*.ps1"))


def _require_known(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name not in probe_names():
        raise ValueError(f"unknown probe {name!r} (known: {', '.join(probe_names())})")


@cache
def _read_probe_file(name: str) -> str:
    return (PROBE_DIR / f"{name}.ps1").read_text(encoding="utf-8")


@cache
def load_lib() -> str:
    """The shared helper functions (harness/probes/lib/common.ps1)."""
    return PROBE_LIB.read_text(encoding="utf-8")


def load_body(name: str) -> str:
    """The text of harness/probes/<name>.ps1 (ValueError for an unknown probe)."""
    _require_known(name)
    return _read_probe_file(name)


def probe_kind(name: str) -> ProbeKind:
    """The kind declared on the second header line of the probe file."""
    lines = load_body(name).splitlines()
    if len(lines) < 2 or lines[0].strip() != f"{_HEADER_PREFIX}{name}":
        raise ValueError(f"probe {name!r}: first line must be '{_HEADER_PREFIX}{name}'")
    kind_line = lines[1].strip()
    if not kind_line.startswith(_KIND_PREFIX):
        raise ValueError(f"probe {name!r}: second line must be '{_KIND_PREFIX}<kind>'")
    kind = kind_line[len(_KIND_PREFIX) :].strip()
    if kind not in _KINDS:
        raise ValueError(f"probe {name!r}: unknown kind {kind!r} (expected one of {_KINDS})")
    return kind


def encode_params(params: dict[str, Any]) -> str:
    """Base64 of the parameters as UTF-8 JSON."""
    text = json.dumps(params, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def build_script(name: str, params: dict[str, Any] | None = None) -> str:
    """The script sent to a node: header line, parameter line, shared helpers, probe body."""
    _require_known(name)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError(f"probe {name!r}: parameters must be a JSON object, got {type(params)}")
    params_line = f"{_PARAMS_PREFIX}{encode_params(params)}{_PARAMS_SUFFIX}"
    return f"{_HEADER_PREFIX}{name}\n{params_line}\n{load_lib()}\n{load_body(name)}"


def parse_script(text: str) -> tuple[str, dict[str, Any]]:
    """Inverse of build_script: (probe name, parameters); ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("probe script must be text")
    lines = text.lstrip("\ufeff").split("\n", 2)
    header = lines[0].rstrip("\r")
    if not header.startswith(_HEADER_PREFIX):
        raise ValueError(
            f"not a qmaudit probe script: first line must start with {_HEADER_PREFIX!r}"
        )
    name = header[len(_HEADER_PREFIX) :].strip()
    if name not in probe_names():
        raise ValueError(f"unknown probe {name!r} in script header")
    if len(lines) < 2:
        raise ValueError(f"probe {name!r}: missing parameter line")
    params_line = lines[1].rstrip("\r")
    if not (params_line.startswith(_PARAMS_PREFIX) and params_line.endswith(_PARAMS_SUFFIX)):
        raise ValueError(f"probe {name!r}: garbled parameter line")
    encoded = params_line[len(_PARAMS_PREFIX) : len(params_line) - len(_PARAMS_SUFFIX)]
    if not _B64_RE.fullmatch(encoded):
        raise ValueError(f"probe {name!r}: parameters are not base64")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"probe {name!r}: parameters are not valid base64: {exc}") from exc
    try:
        params = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"probe {name!r}: parameters are not UTF-8 JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ValueError(
            f"probe {name!r}: parameters must be a JSON object, got {type(params).__name__}"
        )
    return name, params
