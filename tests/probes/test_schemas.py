"""Probe schemas: valid 2020-12, accept the recorded samples, reject mutations at the right path."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from harness.errors import InputError, ProbeOutputError
from harness.probes.protocol import probe_names
from harness.schemas import (
    load_schema,
    parse_probe_output,
    schema_errors,
    validate_document,
    validate_probe_output,
)
from tests.probes.conftest import sample_doc, sample_text

PROBES = probe_names()
# Objects whose keys are data, not fields: any key may be added or missing.
FREE_FORM = {("guest_kvp", "$.items")}

Path = list[str | int]


def _json_path(path: Path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _objects(doc: Any, path: Path | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    path = path or []
    if isinstance(doc, dict):
        yield path, doc
        for key, value in doc.items():
            yield from _objects(value, [*path, key])
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _objects(value, [*path, index])


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return {"unexpected": "object"}
    if isinstance(value, int | float):
        return "not a number"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return "not a list"
    return 7


def _mutations(probe: str) -> Iterator[tuple[str, dict[str, Any], str, str]]:
    """(label, mutated document, expected JSON path, expected words in the reason)."""
    doc = sample_doc(probe)
    for path, obj in _objects(doc):
        where = _json_path(path)
        if (probe, where) in FREE_FORM:
            continue
        extra = copy.deepcopy(doc)
        _get(extra, path)["zz_unexpected"] = 1
        yield f"extra field at {where}", extra, where, "zz_unexpected"
        for key, value in obj.items():
            missing = copy.deepcopy(doc)
            del _get(missing, path)[key]
            yield f"missing {where}.{key}", missing, where, f"'{key}' is a required property"
            wrong = copy.deepcopy(doc)
            _get(wrong, path)[key] = _wrong_type(value)
            yield f"wrong type at {where}.{key}", wrong, _json_path([*path, key]), ""


def _all_mutations() -> list[Any]:
    return [
        pytest.param(probe, doc, where, words, id=f"{probe}: {label}")
        for probe in PROBES
        for label, doc, where, words in _mutations(probe)
    ]


@pytest.mark.parametrize("probe", PROBES)
def test_schema_is_valid_2020_12(probe: str) -> None:
    Draft202012Validator.check_schema(load_schema(probe))


def test_common_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(load_schema("common"))


@pytest.mark.parametrize("probe", PROBES)
def test_recorded_sample_is_accepted(probe: str) -> None:
    assert parse_probe_output(probe, sample_text(probe)) == sample_doc(probe)
    assert schema_errors(probe, sample_doc(probe)) == []


@pytest.mark.parametrize(("probe", "doc", "where", "words"), _all_mutations())
def test_mutated_sample_is_rejected_at_its_path(
    probe: str, doc: dict[str, Any], where: str, words: str
) -> None:
    with pytest.raises(ProbeOutputError) as caught:
        validate_probe_output(probe, doc)
    assert caught.value.probe == probe
    assert caught.value.json_path == where
    assert words in caught.value.reason
    assert probe in str(caught.value) and where in str(caught.value)


@pytest.mark.parametrize(
    ("probe", "path", "value", "where"),
    [
        ("host_info", ["host_utc"], "2026-11-27T22:45:46.123456", "$.host_utc"),
        ("host_info", ["host_utc"], "2026-11-27T22:45:46+00:00", "$.host_utc"),
        ("host_info", ["host_utc"], "2026-11-27 22:45:46Z", "$.host_utc"),
        ("host_info", ["host_utc"], "2026-11-27T22:45:46Z", None),
        ("guest_clock", ["guest_utc"], "2026-11-27T22:45:12.8700041Z", None),
        (
            "cluster_inventory",
            ["vm_groups", 1, "vm_id"],
            "C04F1D2E-9A8B-4C3D-8E7F-112233445566",
            "$.vm_groups[1].vm_id",
        ),
        (
            "cluster_inventory",
            ["vm_groups", 1, "vm_id"],
            "{c04f1d2e-9a8b-4c3d-8e7f-112233445566}",
            "$.vm_groups[1].vm_id",
        ),
        ("cluster_inventory", ["nodes", 2, "state"], "Sleeping", "$.nodes[2].state"),
        ("cluster_inventory", ["vm_groups", 0, "state"], "OnlinePending", "$.vm_groups[0].state"),
        ("vm_details", ["vm", "state"], "Running ", "$.vm.state"),
        (
            "vm_details",
            ["vm", "network_adapters", 0, "mac_address"],
            "00-15-5D-0A-1B-2C",
            "$.vm.network_adapters[0].mac_address",
        ),
        ("vm_details", ["vm", "memory_assigned_bytes"], -1, "$.vm.memory_assigned_bytes"),
        ("vm_details", ["vm", "memory_assigned_bytes"], 4.5, "$.vm.memory_assigned_bytes"),
        ("vm_details", ["vm", "config_version"], "10", "$.vm.config_version"),
        ("vm_details", ["found"], False, "$.vm"),
        ("vm_resources", ["resources", 0, "offline_action"], 4, "$.resources[0].offline_action"),
        (
            "vm_resources",
            ["resources", 1, "resource_type"],
            "Physical Disk",
            "$.resources[1].resource_type",
        ),
        ("vm_resources", ["resources", 1, "vm_id"], None, None),
        ("move_status", ["vms", 0, "vm_state"], "Migrating", "$.vms[0].vm_state"),
        ("move_vm", ["requested", 1, "state"], "Moving", "$.requested[1].state"),
        ("lab_crash_node", ["lab_only"], False, "$.lab_only"),
        ("guest_kvp", ["items", "PhysicalHostName"], None, "$.items.PhysicalHostName"),
        ("cluster_events", ["events", 0, "id"], 70000, "$.events[0].id"),
    ],
)
def test_field_rules(probe: str, path: Path, value: Any, where: str | None) -> None:
    doc = sample_doc(probe)
    _get(doc, path[:-1])[path[-1]] = value
    if where is None:
        validate_probe_output(probe, doc)
        return
    with pytest.raises(ProbeOutputError) as caught:
        validate_probe_output(probe, doc)
    assert caught.value.json_path == where


def test_vm_details_not_found_has_null_vm() -> None:
    doc = sample_doc("vm_details")
    doc.update(found=False, vm=None)
    validate_probe_output("vm_details", doc)
    doc["found"] = True
    with pytest.raises(ProbeOutputError) as caught:
        validate_probe_output("vm_details", doc)
    assert caught.value.json_path == "$.vm"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("  \r\n", "empty"),
        ('{"node": "HV01"', "not JSON"),
        ("Get-VM : Hyper-V was unable to find a virtual machine", "not JSON"),
        ('{"a": 1}{"b": 2}', "more than one"),
        ('{"a": 1}\n{"b": 2}', "more than one"),
        ('[{"a": 1}]', "expected a JSON object"),
        ('"text"', "expected a JSON object"),
        ('{"a": NaN}', "not JSON"),
    ],
)
def test_parse_rejects_anything_but_one_object(text: str, words: str) -> None:
    with pytest.raises(ProbeOutputError) as caught:
        parse_probe_output("host_info", text)
    assert caught.value.json_path == "$"
    assert words in caught.value.reason


def test_parse_strips_bom_and_trailing_whitespace() -> None:
    text = "\ufeff" + sample_text("host_info").rstrip() + "\r\n\r\n  "
    assert parse_probe_output("host_info", text) == sample_doc("host_info")


def test_parse_validates_after_decoding() -> None:
    doc = sample_doc("path_info")
    doc["exists"] = "yes"
    with pytest.raises(ProbeOutputError) as caught:
        parse_probe_output("path_info", json.dumps(doc))
    assert caught.value.json_path == "$.exists"


def test_unknown_probe_is_an_output_error() -> None:
    with pytest.raises(ProbeOutputError) as caught:
        validate_probe_output("no_such_probe", {})
    assert "no schema" in caught.value.reason


def test_validate_document_names_the_source_and_place() -> None:
    doc = sample_doc("network_counters")
    doc["adapters"][1]["sent_bytes"] = "lots"
    with pytest.raises(InputError) as caught:
        validate_document("network_counters", doc, "recorded.json")
    assert caught.value.source == "recorded.json"
    assert caught.value.location == "$.adapters[1].sent_bytes"
    assert str(caught.value).startswith("recorded.json: $.adapters[1].sent_bytes: ")


def test_load_schema_is_cached_and_rejects_paths() -> None:
    assert load_schema("move_vm") is load_schema("move_vm")
    with pytest.raises(KeyError):
        load_schema("../pyproject")
    with pytest.raises(KeyError):
        load_schema("missing")


def test_refs_resolve_locally_and_never_over_the_network() -> None:
    from referencing.exceptions import NoSuchResource

    from harness.schemas import SCHEMA_BASE_URI, _retrieve

    common = _retrieve(SCHEMA_BASE_URI + "common.schema.json")
    assert "utc" in common.contents["$defs"]
    for uri in ("https://example.com/common.schema.json", SCHEMA_BASE_URI + "nope.schema.json"):
        with pytest.raises(NoSuchResource):
            _retrieve(uri)
