"""`qmaudit inventory from-ansible`: INI, YAML and `ansible-inventory --list` JSON; no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.targets.inventory import load_inventory
from harness.yamlfile import read_yaml_file

INI = r"""
[clu1]
hv01.corp.example ansible_host=10.0.0.11
hv02.corp.example ansible_host=10.0.0.12 ansible_port=5985
linux01 ansible_connection=ssh

[clu1:vars]
ansible_connection=winrm
ansible_port=5986
ansible_winrm_transport=kerberos,ntlm
ansible_user=CORP\auditor
ansible_winrm_server_cert_validation=ignore
"""

YAML = """
all:
  children:
    hyperv:
      children:
        clu2:
          vars:
            ansible_connection: psrp
            ansible_password: "{{ lookup('env', 'HV_PASS') }}"
            qm_cluster: PRODCLU2
          hosts:
            hv11: {ansible_host: hv11.corp.example}
            hv12: {ansible_host: hv12.corp.example, ansible_psrp_protocol: https,
                   ansible_psrp_auth: negotiate, ansible_psrp_cert_validation: ignore}
"""


def convert(tmp_path: Path, name: str, text: str, group: str) -> tuple[int, Path]:
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.yaml"
    return main(["inventory", "from-ansible", str(src), "--group", group, "-o", str(out)]), out


def test_ini_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = convert(tmp_path, "hosts.ini", INI, "clu1")
    assert rc == 0, capsys.readouterr().err
    inv = load_inventory(out)
    doc = read_yaml_file(out)
    assert inv.cluster == "clu1"
    assert [n["name"] for n in doc["nodes"]] == ["hv01", "hv02"]
    assert doc["nodes"][0] == {
        "name": "hv01",
        "host": "10.0.0.11",
        "port": 5986,
        "scheme": "https",
        "transport": "kerberos",
        "verify_tls": False,
    }
    # Ansible's rule: port 5985 means http when no scheme is given.
    assert doc["nodes"][1]["port"] == 5985 and doc["nodes"][1]["scheme"] == "http"
    assert doc["vms"] == {"allow": []}
    text = out.read_text()
    assert "Nothing is moved until someone says which VMs" in text
    assert doc["credentials"] == {"username_env": "QM_USER", "password_env": "QM_PASSWORD"}
    assert "skipped linux01: not a Windows host" in capsys.readouterr().out


def test_yaml_with_env_lookup_and_child_groups(tmp_path: Path) -> None:
    rc, out = convert(tmp_path, "hosts.yaml", YAML, "hyperv")
    assert rc == 0
    doc = read_yaml_file(out)
    assert doc["cluster"] == "PRODCLU2"
    assert doc["credentials"]["password_env"] == "HV_PASS"
    assert [n["host"] for n in doc["nodes"]] == ["hv11.corp.example", "hv12.corp.example"]
    # psrp spells scheme and validation its own way; "negotiate" has no qmaudit equivalent.
    assert doc["nodes"][1] == {
        "name": "hv12",
        "host": "hv12.corp.example",
        "scheme": "https",
        "verify_tls": False,
    }


def test_ansible_inventory_list_json(tmp_path: Path) -> None:
    listed = {
        "_meta": {
            "hostvars": {
                "hv21": {"ansible_connection": "winrm", "ansible_host": "10.1.0.21"},
                "hv22": {"ansible_connection": "winrm", "ansible_host": "10.1.0.22"},
            }
        },
        "all": {"children": ["ungrouped", "clu3"]},
        "clu3": {"hosts": ["hv21", "hv22"], "vars": {"ansible_winrm_transport": "ntlm"}},
    }
    rc, out = convert(tmp_path, "list.json", json.dumps(listed), "clu3")
    assert rc == 0
    doc = read_yaml_file(out)
    assert [(n["name"], n["transport"]) for n in doc["nodes"]] == [
        ("hv21", "ntlm"),
        ("hv22", "ntlm"),
    ]


@pytest.mark.parametrize("name", ["hosts.ini", "list.json"])
def test_inline_password_refused_never_echoed(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Tr0ub4dor&3-xyzzy"
    if name.endswith(".ini"):
        text = f"[g]\nhv1 ansible_connection=winrm ansible_password={secret}\n"
    else:
        hostvars = {"hv1": {"ansible_connection": "winrm", "ansible_password": secret}}
        text = json.dumps({"_meta": {"hostvars": hostvars}, "g": {"hosts": ["hv1"]}})
    rc, out = convert(tmp_path, name, text, "g")
    captured = capsys.readouterr()
    assert rc == 2 and not out.exists()
    assert "inline password in ansible_password" in captured.err
    assert secret not in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_no_windows_hosts_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = convert(tmp_path, "hosts.ini", "[g]\nweb1 ansible_connection=ssh\n", "g")
    assert rc == 2 and not out.exists()
    assert "no Windows hosts" in capsys.readouterr().err


def test_unknown_group_and_existing_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _ = convert(tmp_path, "hosts.ini", INI, "nope")
    assert rc == 2 and "no such group" in capsys.readouterr().err
    rc, out = convert(tmp_path, "hosts.ini", INI, "clu1")
    assert rc == 0
    first = out.read_text()
    rc, out = convert(tmp_path, "hosts.ini", INI, "clu1")
    assert out.read_text() == first
    assert rc == 2 and "exists already" in capsys.readouterr().err
