"""The probe protocol: build_script / parse_script round trip, and parameters never as source."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.probes.protocol import (
    PROBE_DIR,
    build_script,
    load_body,
    load_lib,
    parse_script,
    probe_kind,
    probe_names,
)

PARAMS_LINE = re.compile(
    r"\$Params = \[Text\.Encoding\]::UTF8\.GetString\(\[Convert\]::FromBase64String\("
    r"'([A-Za-z0-9+/]*={0,2})'\)\) \| ConvertFrom-Json"
)
HOSTILE = [
    "x'; Remove-Item C:\\ -Recurse; '",
    "'; Remove-Item C:\\ -Recurse; '",
    '"; Stop-Computer -Force; "',
    "$(Stop-Computer -Force)",
    "`n`r`0 backtick",
    "line one\nline two\r\n# qmaudit-probe: move_vm",
    "Léa's VM ☃ — 日本語",
    "@'\nhere-string\n'@",
    "') | Invoke-Expression; ('",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
params_strategy = st.dictionaries(st.text(), json_values, max_size=5)


def _split(script: str) -> tuple[str, str, str]:
    header, params_line, body = script.split("\n", 2)
    return header, params_line, body


@given(name=st.sampled_from(probe_names()), params=params_strategy)
@settings(max_examples=150, deadline=None)
def test_round_trip_and_parameters_only_as_base64(name: str, params: dict[str, Any]) -> None:
    script = build_script(name, params)
    assert parse_script(script) == (name, params)
    header, params_line, body = _split(script)
    assert header == f"# qmaudit-probe: {name}"
    # The only place parameters reach the script is one base64 literal on a fixed line.
    assert PARAMS_LINE.fullmatch(params_line)
    assert body == f"{load_lib()}\n{load_body(name)}"


@given(value=st.text(min_size=1) | st.sampled_from(HOSTILE))
@settings(max_examples=150, deadline=None)
def test_string_values_never_appear_outside_base64(value: str) -> None:
    params = {"vm_name": value, "vm_names": [value, value], "node": value}
    script = build_script("move_vm", params)
    _header, params_line, _body = _split(script)
    assert parse_script(script)[1] == params
    encoded = PARAMS_LINE.fullmatch(params_line)
    assert encoded is not None
    assert json.loads(base64.b64decode(encoded.group(1)).decode("utf-8")) == params
    # The script is the fixed header, the fixed line around base64, the fixed shared helpers and
    # the unchanged body.
    assert (
        script == f"# qmaudit-probe: move_vm\n{params_line}\n{load_lib()}\n{load_body('move_vm')}"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_not_in_the_script(value: str) -> None:
    script = build_script("vm_details", {"vm_id": value, "other": {"nested": [value]}})
    assert value not in script
    assert parse_script(script) == ("vm_details", {"vm_id": value, "other": {"nested": [value]}})


def test_build_script_with_no_params_sends_an_empty_object() -> None:
    _name, params = parse_script(build_script("host_info"))
    assert params == {}


@pytest.mark.parametrize(
    "name", ["no_such_probe", "", "../host_info", "host_info.ps1", "HOST_INFO"]
)
def test_build_script_rejects_unknown_probes(name: str) -> None:
    with pytest.raises(ValueError, match="unknown probe"):
        build_script(name, {})


def test_build_script_rejects_non_object_params() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        build_script("host_info", [1, 2])  # type: ignore[arg-type]


def _params_line(payload: bytes) -> str:
    encoded = base64.b64encode(payload).decode("ascii")
    return _params_line_raw(encoded)


def _params_line_raw(literal: str) -> str:
    return (
        "$Params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String("
        f"'{literal}')) | ConvertFrom-Json"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "first line"),
        ("Get-VM\n", "first line"),
        ("#qmaudit-probe: host_info\n" + _params_line(b"{}"), "first line"),
        ("# qmaudit-probe: no_such_probe\n" + _params_line(b"{}"), "unknown probe"),
        ("# qmaudit-probe: host_info", "missing parameter line"),
        ("# qmaudit-probe: host_info\n$Params = @{}\n", "garbled"),
        ("# qmaudit-probe: host_info\n" + _params_line(b"{}") + " ; Remove-Item x\n", "garbled"),
        (
            "# qmaudit-probe: host_info\n" + _params_line_raw("e30"),
            "base64",
        ),
        (
            "# qmaudit-probe: host_info\n" + _params_line_raw("e3'; x; '"),
            "base64",
        ),
        ("# qmaudit-probe: host_info\n" + _params_line(b"{"), "JSON"),
        ("# qmaudit-probe: host_info\n" + _params_line(b"\xff\xfe{}"), "UTF-8"),
        ("# qmaudit-probe: host_info\n" + _params_line(b"[1, 2]"), "JSON object"),
        ("# qmaudit-probe: host_info\n" + _params_line(b"null"), "JSON object"),
    ],
)
def test_parse_script_is_strict(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_script(text)


def test_parse_script_accepts_crlf_and_bom() -> None:
    script = build_script("path_info", {"path": "\\\\fs01\\vms"}).replace("\n", "\r\n")
    assert parse_script("\ufeff" + script) == ("path_info", {"path": "\\\\fs01\\vms"})


def test_probe_files_and_kinds() -> None:
    names = probe_names()
    assert names == sorted(p.stem for p in PROBE_DIR.glob("*.ps1"))
    kinds = {name: probe_kind(name) for name in names}
    assert {n for n, k in kinds.items() if k == "action"} == {
        "move_vm",
        "drain_node",
        "resume_node",
    }
    assert {n for n, k in kinds.items() if k == "lab-only"} == {
        "lab_crash_node",
        "lab_power_on_node",
        "lab_set_time_sync",
    }
