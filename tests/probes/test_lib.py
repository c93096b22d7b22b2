"""Shared probe helpers: clean PowerShell, definitions only, every helper a probe calls exists."""

from __future__ import annotations

import re

import pytest

from harness.probes.lint import parse_errors, write_verbs
from harness.probes.protocol import load_body, load_lib, probe_names

DEFINED = set(re.findall(r"^function ([A-Za-z0-9-]+)", load_lib(), re.MULTILINE))


def test_lib_parses_and_writes_nothing() -> None:
    assert parse_errors(load_lib()) == []
    assert write_verbs(load_lib()) == []
    assert {"ConvertTo-QmUtc", "ConvertTo-QmGuid", "Get-QmWin32Code"} <= DEFINED


def test_lib_is_definitions_only() -> None:
    # Anything but comments, blank lines and function blocks would run on every probe call.
    depth = 0
    for line in load_lib().splitlines():
        stripped = line.strip()
        if depth == 0 and stripped and not stripped.startswith(("#", "function ")):
            pytest.fail(f"statement outside a function in the probe library: {line!r}")
        depth += line.count("{") - line.count("}")


@pytest.mark.parametrize("name", probe_names())
def test_every_qm_helper_used_is_defined(name: str) -> None:
    body = load_body(name)
    own = set(re.findall(r"^function ([A-Za-z0-9-]+)", body, re.MULTILINE))
    used = set(re.findall(r"\b((?:ConvertTo|Get|Import)-Qm[A-Za-z0-9]+)\b", body))
    assert used <= DEFINED | own, f"{name} calls undefined helpers {sorted(used - DEFINED - own)}"
    assert not own & DEFINED, f"{name} redefines shared helpers {sorted(own & DEFINED)}"
