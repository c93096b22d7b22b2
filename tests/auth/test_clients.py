"""Real clients against `qmaudit lab serve --https --kerberos --credssp`: pywinrm and pypsrp,
and the harness's one-line refusals (exit 2, no traceback) for what a user gets wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.probes.protocol import build_script
from harness.transport.delivery import ScriptDelivery
from tests.auth.conftest import require_kerberos

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`qmaudit lab serve --https --kerberos --credssp` in its own process for the module."""
    require_kerberos()
    state = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harness.cli", "lab", "serve", "--state-dir", str(state)]
    process = subprocess.Popen(
        [*command, "--https", "--kerberos", "--credssp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    inventory = state / "inventory.yaml"
    deadline = time.monotonic() + 60
    while not inventory.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert inventory.exists(), process.stdout.read() if process.poll() is not None else ""
        creds = json.loads((state / "credentials.json").read_text(encoding="utf-8"))
        doc = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        yield {"state": state, "inventory": inventory, "creds": creds, "doc": doc}
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out[-2000:]


def _kerberos_env(serve: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp: Path) -> str:
    """kinit (MIT) into a private cache for the lab's user; this process then uses it."""
    banner_user = f"{serve['creds']['username']}@QMLAB.TEST"
    conf = str(serve["state"] / "krb5.conf")
    cache = f"FILE:{tmp / 'ccache'}"
    monkeypatch.setenv("KRB5_CONFIG", conf)
    monkeypatch.setenv("KRB5CCNAME", cache)
    subprocess.run(
        ["kinit", banner_user],
        input=serve["creds"]["password"] + "\n",
        env={**os.environ, "KRB5_CONFIG": conf, "KRB5CCNAME": cache},
        text=True,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return banner_user


def _node(serve: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = serve["doc"]["nodes"][0]
    return node


def test_pywinrm_kerberos_over_https(
    serve: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import winrm

    user = _kerberos_env(serve, monkeypatch, tmp_path)
    node = _node(serve)
    protocol = winrm.Protocol(
        f"https://127.0.0.1:{node['port']}/wsman",
        transport="kerberos",
        username=user,
        ca_trust_path=serve["doc"]["defaults"]["ca_bundle"],
        kerberos_hostname_override=node["kerberos_hostname"],
    )
    delivery = ScriptDelivery.of(build_script("host_info", {}))
    shell = protocol.open_shell()
    command = protocol.run_command(shell, delivery.command, list(delivery.arguments))
    protocol.send_command_input(shell, command, delivery.stdin, end=True)
    out, err, code = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert code == 0, err
    assert json.loads(out)["node"] == node["name"]


def test_pypsrp_kerberos_over_https_in_a_runspace(
    serve: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    user = _kerberos_env(serve, monkeypatch, tmp_path)
    node = _node(serve)
    wsman = WSMan(
        "127.0.0.1",
        port=node["port"],
        ssl=True,
        auth="kerberos",
        username=user,
        cert_validation=serve["doc"]["defaults"]["ca_bundle"],
        negotiate_hostname_override=node["kerberos_hostname"],
        negotiate_service="HTTP",
    )
    with wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(build_script("host_info", {}))
        output = ps.invoke()
    assert not ps.had_errors, ps.streams.error
    assert json.loads(str(output[0]))["node"] == node["name"]


def test_pypsrp_credssp_over_https(serve: dict[str, Any]) -> None:
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    node = _node(serve)
    creds = serve["creds"]
    wsman = WSMan(
        "127.0.0.1",
        port=node["port"],
        ssl=True,
        auth="credssp",
        username=f"{creds['domain']}\\{creds['username']}",
        password=creds["password"],
        cert_validation=serve["doc"]["defaults"]["ca_bundle"],
    )
    with wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(build_script("path_info", {"path": "\\\\FS1\\VMs"}))
        output = ps.invoke()
    doc = json.loads(str(output[0]))
    assert doc["access_denied"] is False and doc["exists"] is True  # CredSSP: the second hop


def _qmaudit(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ca_bundle": None}, "TLS verification failed: its certificate (issued by"),
        ({"user": "someone@WRONG.TEST"}, "no KDC answers for realm WRONG.TEST (wrong realm?)"),
        ({"kerberos_hostname": "hv-q.qmlab.test"}, "no service principal HTTP/hv-q.qmlab.test"),
    ],
)
def test_a_run_refuses_in_one_line_before_any_move(
    serve: dict[str, Any], tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    doc = json.loads(json.dumps(serve["doc"]))
    if "ca_bundle" in change:
        del doc["defaults"]["ca_bundle"]
    if "kerberos_hostname" in change:
        for node in doc["nodes"]:
            node["kerberos_hostname"] = change["kerberos_hostname"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(doc), encoding="utf-8")
    creds = serve["creds"]
    env = {
        "QM_LAB_USER": change.get("user", f"{creds['username']}@QMLAB.TEST"),
        "QM_LAB_PASSWORD": creds["password"],
        "KRB5_CONFIG": str(serve["state"] / "krb5.conf"),
        "QM_LOCK_DIR": str(tmp_path / "locks"),
    }
    done = _qmaudit(
        ["run", "--target", str(inventory), "-m", "QM-13", "--no-report"], env, tmp_path
    )
    assert done.returncode == 2, (done.stdout[-1500:], done.stderr[-1500:])
    assert "Traceback" not in done.stderr + done.stdout
    lines = [ln for ln in done.stderr.splitlines() if expected in ln]
    assert len(lines) == 1, done.stderr[-1500:]
    assert creds["password"] not in done.stderr + done.stdout
    assert not list((tmp_path / "reports").glob("*/evidence/*")), "nothing may have run"


def test_the_served_inventory_audits_over_kerberos_and_https(
    serve: dict[str, Any], tmp_path: Path
) -> None:
    creds = serve["creds"]
    env = {
        "QM_LAB_USER": f"{creds['username']}@QMLAB.TEST",
        "QM_LAB_PASSWORD": creds["password"],
        "KRB5_CONFIG": str(serve["state"] / "krb5.conf"),
        "QM_LOCK_DIR": str(tmp_path / "locks"),
    }
    args = ["run", "--target", str(serve["inventory"]), "-m", "QM-13", "--no-report"]
    done = _qmaudit(args, env, tmp_path)
    assert done.returncode == 0, (done.stdout[-1500:], done.stderr[-1500:])
    assert "cannot look" not in done.stderr  # a delegated ticket: the second hop works
    assert serve["doc"]["defaults"]["transport"] == "kerberos"
    assert serve["doc"]["defaults"]["scheme"] == "https"
