"""Malformed inventories: exit 2 from check-inventory and run, with a message naming the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.errors import InputError
from harness.suite.selection import check_run_selection
from harness.targets.inventory import load_inventory

VALID: dict[str, Any] = {
    "cluster": "PRODCLU1",
    "defaults": {"scheme": "https", "port": 5986, "transport": "ntlm"},
    "credentials": {"username_env": "QMT_USER", "password_env": "QMT_PASSWORD"},
    "nodes": [{"name": "HV01", "host": "hv01.corp.example"}, {"name": "HV02", "host": "hv02"}],
    "vms": {"allow": ["web*", "app01"], "never": ["dc01", "sql*"]},
    "thresholds": {"clock_tolerance_s": 2},
    "allow_destructive": False,
}


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    change(doc)
    return doc


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


def _yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


# (id, file text or None for "a directory instead of a file", what the message must name)
CASES: list[tuple[str, str | None, str]] = [
    ("syntax error", "cluster: PRODCLU1\nnodes: [ {name: HV01\n", "line "),
    ("unknown key", _yaml(_edit(_set("colour", "red"))), "'colour' was unexpected"),
    (
        "unknown node key",
        _yaml(_edit(_set("nodes.0.hostname", "x"))),
        "'hostname' was unexpected",
    ),
    ("inline password", _yaml(_edit(_set("credentials.password", "x"))), "$.credentials.password"),
    ("inline secret in a node", _yaml(_edit(_set("nodes.1.secret", "x"))), "$.nodes[1].secret"),
    ("missing endpoint", _yaml(_edit(_drop("nodes.0.host"))), "'host' is a required property"),
    ("no nodes", _yaml(_edit(_set("nodes", []))), "$.nodes"),
    ("bad port", _yaml(_edit(_set("nodes.0.port", 70000))), "$.nodes[0].port"),
    ("port not a number", _yaml(_edit(_set("defaults.port", "https"))), "$.defaults.port"),
    ("unknown transport", _yaml(_edit(_set("defaults.transport", "telnet"))), "transport"),
    ("duplicate node", _yaml(_edit(_set("nodes.1.name", "hv01"))), "$.nodes[1].name"),
    ("VM in both lists", _yaml(_edit(_set("vms.never", ["APP01"]))), "$.vms.allow[1]"),
    ("unknown threshold", _yaml(_edit(_set("thresholds.speed", 3))), "$.thresholds.speed"),
    ("missing CA bundle", _yaml(_edit(_set("nodes.0.ca_bundle", "/no/ca.pem"))), "ca_bundle"),
    (
        "read timeout below operation timeout",
        _yaml(_edit(_set("defaults.read_timeout_s", 5))),
        "$.nodes[0].read_timeout_s",
    ),
    ("non-member is a node", _yaml(_edit(_set("non_member_host", "HV02"))), "non_member_host"),
    ("no credentials for ntlm", _yaml(_edit(_drop("credentials"))), "$.credentials"),
    ("top level a list", "- cluster: X\n", "top level must be a mapping"),
    ("empty file", "\n", "the file is empty"),
    ("unreadable file", None, "cannot read the file"),
]


def _materialise(tmp_path: Path, text: str | None) -> Path:
    path = tmp_path / "inventory.yaml"
    if text is None:
        path.mkdir()  # a directory: unreadable as a file even for root
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["check-inventory", "run"])
def test_malformed_inventory_exit_2(
    command: str,
    text: str | None,
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QMT_USER", "someone")
    monkeypatch.setenv("QMT_PASSWORD", "not-used-anywhere")
    path = _materialise(tmp_path, text)
    argv = ["check-inventory", str(path)] if command == "check-inventory" else ["run", "--target"]
    if command == "run":
        argv.append(str(path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert str(path) in err and "Traceback" not in err


def test_inline_password_message(tmp_path: Path) -> None:
    path = _materialise(tmp_path, _yaml(_edit(_set("credentials.password", "hunter2-value"))))
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert "inline passwords are not allowed: use password_env" in info.value.message
    assert "hunter2-value" not in info.value.message


def test_missing_env_without_terminal_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMT_USER", "someone")
    monkeypatch.delenv("QMT_PASSWORD", raising=False)
    path = _materialise(tmp_path, _yaml(VALID))
    assert main(["check-inventory", str(path)]) == 2
    err = capsys.readouterr().err
    assert "QMT_PASSWORD" in err and "$.credentials.password_env" in err


def test_valid_example_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "inventory-example.yaml"
    inventory = load_inventory(example)
    assert inventory.cluster and inventory.nodes
    assert inventory.allow_destructive is False and inventory.lab_actions is False


@pytest.mark.parametrize("markers", [None, "", "core", "QM-11", "disruptive or core"])
def test_empty_allowlist_with_disruptive_selected_exit_2(
    markers: str | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QMT_USER", "someone")
    monkeypatch.setenv("QMT_PASSWORD", "not-used-anywhere")
    path = _materialise(tmp_path, _yaml(_edit(_set("vms.allow", []))))
    argv = ["run", "--target", str(path)] + (["-m", markers] if markers is not None else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "$.vms.allow" in err and "@disruptive" in err


@pytest.mark.parametrize("markers", ["not disruptive", "lab-only and not disruptive"])
def test_empty_allowlist_without_disruptive_is_fine(markers: str, tmp_path: Path) -> None:
    path = _materialise(tmp_path, _yaml(_edit(_set("vms.allow", []))))
    check_run_selection(str(path), markers)


def test_selection_check_ignores_lab_targets() -> None:
    check_run_selection("lab", None)


def test_missing_env_on_a_terminal_prompts_once_without_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from harness.redact import redact
    from harness.targets import inventory as inv

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "typed-secret-5521"

    monkeypatch.setattr(inv.sys, "stdin", Tty())
    monkeypatch.setattr(inv.getpass, "getpass", fake_getpass)
    monkeypatch.setattr(inv, "_prompted", {})
    monkeypatch.setenv("QMT_USER", "someone")
    monkeypatch.delenv("QMT_PASSWORD", raising=False)
    path = _materialise(tmp_path, _yaml(VALID))
    inv.check_inventory_spec(str(path))
    inv.check_inventory_spec(str(path))
    assert len(asked) == 1 and "QMT_PASSWORD" in asked[0]
    assert "typed-secret-5521" not in redact("the value typed-secret-5521")
