"""`qmaudit lab serve` writes an inventory for its own endpoints; the banner never shows secrets."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from harness.lab.serve import PASSWORD_ENV, USER_ENV, LabServer, export_lines, print_banner
from harness.lab.topology import load_default_topology
from harness.targets.inventory import load_inventory
from harness.targets.registry import open_target


def test_inventory_lists_the_members_over_http(served_lab: LabServer) -> None:
    assert served_lab.inventory_path is not None and served_lab.inventory_path.is_file()
    assert served_lab.inventory_path.stat().st_mode & 0o077 == 0
    inventory = load_inventory(served_lab.inventory_path)
    assert inventory.cluster == served_lab.topology.cluster.name
    assert [n.name for n in inventory.nodes] == [n.name for n in served_lab.topology.nodes]
    for node in inventory.nodes:
        assert node.settings["scheme"] == "http" and node.host == "127.0.0.1"
        assert served_lab.endpoints[node.name].endswith(f":{node.settings['port']}/wsman")
    assert inventory.credentials is not None
    assert (inventory.credentials.username_env, inventory.credentials.password_env) == (
        USER_ENV,
        PASSWORD_ENV,
    )
    assert inventory.non_member_host == served_lab.topology.non_members[0].name
    assert inventory.lab_actions and inventory.allow_destructive
    creds = served_lab.credentials
    assert creds is not None
    assert creds.password not in served_lab.inventory_path.read_text(encoding="utf-8")


def test_banner_prints_path_and_exports_but_not_the_password(served_lab: LabServer) -> None:
    out = io.StringIO()
    print_banner(served_lab, out)
    text = out.getvalue()
    creds = served_lab.credentials
    assert creds is not None
    assert str(served_lab.inventory_path) in text
    assert f"export {USER_ENV}=" in text and f"export {PASSWORD_ENV}=" in text
    assert str(served_lab.credentials_path) in text
    assert creds.password not in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_export_lines_set_the_right_values(served_lab: LabServer) -> None:
    creds = served_lab.credentials
    assert creds is not None
    script = (
        "\n".join(export_lines(served_lab)) + f'\nprintf "%s\\n%s" "${USER_ENV}" "${PASSWORD_ENV}"'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n") == [creds.qualified_username, creds.password]


def test_inventory_target_reaches_the_lab(served_lab: LabServer, lab_env: dict[str, str]) -> None:
    target = open_target(str(served_lab.inventory_path))
    try:
        assert target.kind == "cluster" and target.lab_actions
        doc = target.driver.run_probe("cluster_inventory")
        assert doc["cluster"]["name"] == served_lab.topology.cluster.name
    finally:
        target.close()


def test_stop_removes_the_inventory(tmp_path: object) -> None:
    server = LabServer(load_default_topology(), state_dir=str(tmp_path), auth=("ntlm",)).start()
    path = server.inventory_path
    assert path is not None and path.is_file()
    server.stop()
    assert not path.exists() and server.inventory_path is None
