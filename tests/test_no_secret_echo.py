"""No secret echoed: a value under a credential key, or one that looks like a password, never
appears in any output of a refused file (stdout, stderr, files written), for every file kind."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.lab.topology import DEFAULT_TOPOLOGY
from harness.redact import looks_secret

ROOT = Path(__file__).resolve().parents[1]
SECRET = "Tr0ub4dor&3-QMT-x9"  # what a user would paste by mistake
TOKEN = "c2VjcmV0dG9rZW5BQkNEMTIzNDU2Nzg5"  # a base64 token: no symbol, still a secret

INVENTORY: dict[str, Any] = {
    "cluster": "PRODCLU1",
    "defaults": {"scheme": "https", "port": 5986, "transport": "ntlm"},
    "credentials": {"username_env": "QMT_USER", "password_env": "QMT_PASSWORD"},
    "nodes": [{"name": "HV01", "host": "hv01.corp.example"}],
    "vms": {"allow": ["qm-*"]},
}


def _edit(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(INVENTORY)
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


INVENTORY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("password_env holds the password", _edit(["credentials", "password_env"], SECRET), SECRET),
    ("lower-case key", _edit(["credentials", "password_env"], "hunter2-not-a-name"), "hunter2"),
    ("differently cased key", _edit(["credentials", "PassWord_ENV"], SECRET), SECRET),
    ("guest password_env", _edit(["guest_credentials"], {"password_env": SECRET}), SECRET),
    ("value: <secret>", _edit(["value"], SECRET), SECRET),
    ("threshold value", _edit(["thresholds"], {"clock_tolerance_s": SECRET}), SECRET),
    ("port", _edit(["defaults", "port"], SECRET), SECRET),
    ("host", _edit(["nodes", 0, "host"], SECRET), SECRET),
    ("token as a node name", _edit(["nodes", 0, "name"], TOKEN), TOKEN),
    (
        "nested credential key",
        _edit(["nodes", 0, "extra"], {"deep": {"Api_Token_Env": "plainlookingvalue"}}),
        "plainlookingvalue",
    ),
    ("inline password", _edit(["credentials", "password"], SECRET), SECRET),
    ("nested secret", _edit(["defaults", "auth"], {"Secret": {"value": "short-pw1"}}), "short-pw1"),
]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _assert_not_echoed(proc: subprocess.CompletedProcess[str], work: Path, secret: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert ": $" in proc.stderr, "the message names the place"
    assert secret not in proc.stdout and secret not in proc.stderr, proc.stderr
    for path in work.rglob("*"):
        if path.is_file() and path.suffix != ".yaml":
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("doc", "secret"), [c[1:] for c in INVENTORY_CASES], ids=[c[0] for c in INVENTORY_CASES]
)
def test_inventory_errors_never_quote_secrets(
    tmp_path: Path, doc: dict[str, Any], secret: str
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    for args in (["check-inventory", str(path)], ["run", "--target", str(path), "--no-report"]):
        _assert_not_echoed(_run(args, tmp_path), tmp_path, secret)


def test_topology_and_profile_errors_never_quote_secrets(tmp_path: Path) -> None:
    topology = tmp_path / "topology.yaml"
    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    topology.write_text(
        text.replace("move_type_threshold: 2000", f"move_type_threshold: '{SECRET}'")
    )
    _assert_not_echoed(_run(["lab", "validate", str(topology)], tmp_path), tmp_path, SECRET)

    profile = tmp_path / "profile.yaml"
    doc = {
        "name": "p",
        "description": "d",
        "breaks": ["QM-09"],
        "rules_off": [{"rule": "storage_speed_as_declared", "params": {"factor": SECRET}}],
    }
    profile.write_text(yaml.safe_dump(doc), encoding="utf-8")
    _assert_not_echoed(_run(["selftest", "--profile", str(profile)], tmp_path), tmp_path, SECRET)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (SECRET, True),
        (TOKEN, True),
        ("P@ssw0rd", True),
        ("hv01.corp.example", False),
        ("C:\\ClusterStorage\\Volume1", False),
        ("5B1F0C1E-9D7A-4C7E-8A59-0E6F3C2A9B10", False),
        ("web 01", False),
        ("QM_PASSWORD", False),
    ],
)
def test_what_looks_like_a_secret(text: str, secret: bool) -> None:
    assert looks_secret(text) is secret
