"""Offline checks of every shipped probe script: syntax, kind, read-only-ness, conventions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.probes import lint as pscheck
from harness.probes.protocol import PROBE_DIR, load_body, probe_kind, probe_names
from harness.schemas import load_schema

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
# guest_user / guest_password: PowerShell Direct's Invoke-Command -VMName has a mandatory
# -Credential, so the guest probes need them on a real cluster (reported to the lead).
EXTRA_PARAMS = {
    "guest_clock": {"guest_user", "guest_password"},
    "guest_kvp": {"guest_user", "guest_password"},
}

PROBES = probe_names()
READ_PROBES = [n for n in PROBES if probe_kind(n) == "read"]
RUNNABLE = [n for n in PROBES if probe_kind(n) != "lab-only"]


def _contract_rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for line in CONTRACTS.read_text(encoding="utf-8").splitlines():
        match = re.match(
            r"\|\s*`([a-z_]+)`\s*\|\s*([a-z-]+)\s*\|\s*`(\{.*?\})`\s*\|(.*)\|\s*$", line
        )
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3), match.group(4))
    return rows


def _code_lines(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_probe_set_matches_the_contract() -> None:
    rows = _contract_rows()
    assert rows, "the probe table in docs/contracts.md was not found"
    assert sorted(rows) == PROBES
    for name, (kind, _params, _doc) in rows.items():
        assert probe_kind(name) == kind, name


@pytest.mark.parametrize("name", PROBES)
def test_header_names_the_file_and_a_kind(name: str) -> None:
    lines = (PROBE_DIR / f"{name}.ps1").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# qmaudit-probe: {name}"
    assert re.fullmatch(r"# qmaudit-kind: (read|action|lab-only)", lines[1])


@pytest.mark.parametrize("name", PROBES)
def test_probe_parses_without_error(name: str) -> None:
    assert pscheck.parse_errors(load_body(name)) == []


@pytest.mark.parametrize("name", READ_PROBES)
def test_read_probe_uses_no_write_verb(name: str) -> None:
    assert pscheck.write_verbs(load_body(name)) == []


@pytest.mark.parametrize("name", PROBES)
def test_no_probe_writes_the_cluster_hive(name: str) -> None:
    assert not pscheck.writes_cluster_hive(load_body(name))


@pytest.mark.parametrize("name", PROBES)
def test_every_probe_has_a_schema_of_its_kind(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert f"({probe_kind(name)})" in schema["title"]
    assert {"node", "host_utc"} <= set(schema["required"])


@pytest.mark.parametrize("name", RUNNABLE)
def test_body_conventions(name: str) -> None:
    code = _code_lines(load_body(name))
    assert code[0] == "$ErrorActionPreference = 'Stop'"
    assert code[1] == "$ProgressPreference = 'SilentlyContinue'"
    # One document, written last; nothing else writes to the output stream on purpose.
    assert code[-1] == "ConvertTo-Json -InputObject $doc -Depth 8 -Compress"
    text = "\n".join(code)
    assert text.count("ConvertTo-Json") == 1
    assert not re.search(r"Write-(Host|Output|Information)", text)
    # Dates are formatted explicitly, never left to ConvertTo-Json.
    assert re.search(r"\bhost_utc\s+= \$null", text)
    assert "$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)" in text
    # Every link path comes from the node's own %ProgramData%, never a hard-coded drive.
    assert not re.search(r"[A-Za-z]:\\", text.replace("HKLM:\\", ""))


@pytest.mark.parametrize("name", RUNNABLE)
def test_probe_reads_exactly_the_contract_parameters(name: str) -> None:
    _kind, params_cell, _doc = _contract_rows()[name]
    declared = set(re.findall(r"[{,]\s*(\w+)\s*(?=[:,}])", params_cell))
    used = set(re.findall(r"\$Params\.(\w+)", load_body(name)))
    assert used == declared | EXTRA_PARAMS.get(name, set())
    # $Params is only ever read member by member.
    assert not re.search(r"\$Params(?!\.\w)", "\n".join(_code_lines(load_body(name))))


@pytest.mark.parametrize("name", RUNNABLE)
def test_schema_fields_are_the_contract_fields(name: str) -> None:
    _kind, _params, doc_cell = _contract_rows()[name]
    fields = set(load_schema(name)["properties"]) - {"node", "host_utc"}
    for field in fields:
        assert f"`{field}`" in doc_cell, f"{name}: field {field!r} not in docs/contracts.md"


@pytest.mark.parametrize("name", [n for n in PROBES if probe_kind(n) == "lab-only"])
def test_lab_only_probe_only_refuses(name: str) -> None:
    code = _code_lines(load_body(name))
    assert code == [
        f"throw 'qmaudit: {name} is a lab-only action and is never run on a real cluster'"
    ]


def test_action_probes_use_the_documented_cmdlets() -> None:
    move = pscheck.write_verbs(load_body("move_vm"))
    assert move == ["Move-ClusterVirtualMachineRole", "Move-ClusterGroup"]
    assert "-MigrationType Quick" in load_body("move_vm")
    assert "Wait = 0" in load_body("move_vm")
    assert pscheck.write_verbs(load_body("drain_node")) == ["Suspend-ClusterNode"]
    assert "-Drain -Wait:$false" in load_body("drain_node")
    assert pscheck.write_verbs(load_body("resume_node")) == ["Resume-ClusterNode"]
    assert "-Failback NoFailback" in load_body("resume_node")


def test_move_vm_passes_node_only_when_given() -> None:
    body = load_body("move_vm")
    # Splatting: -Node is added to the argument table only for a non-empty node parameter.
    assert re.search(r"if \(\$null -ne \$targetNode\) \{ \$arguments\.Node = \$targetNode \}", body)
    assert "-Node" not in "\n".join(_code_lines(body))


def test_events_probe_tolerates_only_the_empty_result() -> None:
    body = load_body("cluster_events")
    assert "-notlike 'NoMatchingEventsFound*') { throw }" in body


def test_guest_probes_never_echo_the_password() -> None:
    for name in ("guest_clock", "guest_kvp"):
        body = load_body(name)
        throws = [line for line in _code_lines(body) if "throw" in line and "$message" in line]
        assert throws and all("Replace($guestPassword, '********')" in line for line in throws)
