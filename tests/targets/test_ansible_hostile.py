"""from-ansible reads static inventories only: nothing of a hostile inventory runs or injects."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import InputError
from harness.targets.ansible import load_hosts, render_inventory
from harness.targets.ansible_static import parse_ini
from harness.yamlfile import read_yaml_file

PIPE = "\"{{ lookup('pipe', 'touch MARK') }}\""


def convert(tmp_path: Path, src: Path, group: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out.yaml"
    return main(
        ["inventory", "from-ansible", str(src), "--group", group, "-o", str(out), *extra]
    ), out


def _refused(capsys: pytest.CaptureFixture[str], rc: int, out: Path, *words: str) -> str:
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists(), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("plugin", ["generator", "constructed", "ansible.builtin.generator"])
def test_plugin_inventories_run_nothing(
    tmp_path: Path, plugin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    src = tmp_path / "inv.yml"
    src.write_text(
        f"plugin: {plugin}\n"
        "hosts:\n"
        f"  name: \"{{{{ lookup('pipe', 'touch {marker}') }}}}\"\n"
        "layers:\n  a: [x]\n",
        encoding="utf-8",
    )
    rc, out = convert(tmp_path, src, "all")
    _refused(capsys, rc, out, "$.plugin", "--allow-dynamic")
    assert not marker.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="executable bit")
def test_script_inventory_is_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    src = tmp_path / "inventory.py"
    src.write_text(
        f"#!{sys.executable}\nopen({str(marker)!r}, 'w').write('x')\nprint('{{}}')\n",
        encoding="utf-8",
    )
    src.chmod(src.stat().st_mode | stat.S_IXUSR)
    rc, out = convert(tmp_path, src, "all")
    _refused(capsys, rc, out, "script", "nothing was run")
    assert not marker.exists()
    # The explicit opt-in does hand it to Ansible, which runs it (documented as running code).
    rc, out = convert(tmp_path, src, "all", "--allow-dynamic")
    assert marker.exists()
    assert "RUNS" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "hosts.ini",
            "[g]\nhv1 ansible_connection=winrm ansible_host=" + PIPE + "\n",
        ),
        (
            "hosts.yml",
            "g:\n  hosts:\n    hv1:\n      ansible_connection: winrm\n"
            "      ansible_port: \"{{ lookup('pipe', 'touch MARK') }}\"\n",
        ),
        (
            "hosts.ini",
            "[g]\nhv1 ansible_connection=winrm\n[g:vars]\n"
            "ansible_password={{ lookup('env','X') }}{{ lookup('pipe','touch MARK') }}\n",
        ),
    ],
)
def test_templates_are_never_evaluated(
    tmp_path: Path, name: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    src = tmp_path / name
    src.write_text(text.replace("MARK", str(marker)), encoding="utf-8")
    rc, out = convert(tmp_path, src, "g")
    err = _refused(capsys, rc, out, "$.hv1.", "not evaluated")
    assert str(marker) not in err
    assert not marker.exists()


def test_newlines_cannot_inject_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "hosts.yml"
    src.write_text(
        "g:\n  hosts:\n    hv1:\n      ansible_connection: winrm\n"
        '      ansible_user: "x\\nverify_tls: false\\nallow_destructive: true\\n# "\n'
        '      qm_cluster: "C1\\nallow_destructive: true"\n',
        encoding="utf-8",
    )
    rc, out = convert(tmp_path, src, "g")
    if rc == 2:  # refused by the inventory checks is clean too; never written with the keys
        assert not out.exists()
        return
    doc = read_yaml_file(out)
    assert set(doc) == {"cluster", "credentials", "nodes", "vms"}
    assert "verify_tls" not in doc["nodes"][0] and "allow_destructive" not in doc
    text = out.read_text(encoding="utf-8")
    assert "\nverify_tls" not in text and "\nallow_destructive" not in text


def test_newline_in_group_and_path_stays_in_comments(tmp_path: Path) -> None:
    hosts = load_hosts(_write(tmp_path, "hosts.ini", "[g]\nhv1 ansible_connection=winrm\n"), "g")
    text, _ = render_inventory(hosts, "g\nverify_tls: false", "evil\nallow_destructive: true")
    assert "\nverify_tls" not in text and "\nallow_destructive" not in text


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="POSIX devices")
def test_device_and_fifo_refused_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    rc, out = convert(tmp_path, Path("/dev/zero"), "g")
    _refused(capsys, rc, out, "not a regular file")
    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo)
    rc, out = convert(tmp_path, fifo, "g")
    _refused(capsys, rc, out, "not a regular file")
    assert time.monotonic() - started < 10


def test_huge_host_range_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path, "hosts.ini", "[g]\nhv[0:99999999999] ansible_connection=winrm\n")
    rc, out = convert(tmp_path, src, "g")
    _refused(capsys, rc, out, "more than")


def test_group_vars_and_ranges_are_read(tmp_path: Path) -> None:
    src = _write(tmp_path, "hosts.ini", "[clu]\nhv[01:02].corp ansible_connection=winrm\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "clu.yml").write_text("ansible_port: 5985\n", encoding="utf-8")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "hv02.corp.yml").write_text("ansible_port: 5986\n", encoding="utf-8")
    hosts = {h.name: h.vars for h in load_hosts(src, "clu")}
    assert hosts["hv01.corp"]["ansible_port"] == 5985
    assert hosts["hv02.corp"]["ansible_port"] == 5986


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("[]:=\"' \n#;{}%ab01gvhw_-.\\")), max_size=300))
def test_any_ini_text_parses_or_is_refused(text: str) -> None:
    try:
        groups = parse_ini(text, "fuzz.ini")
    except InputError:
        return
    assert "all" in groups


def test_hostile_group_vars_refused_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path, "hosts.ini", "[clu]\nhv1 ansible_connection=winrm\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "clu.json").write_text("[" * 100_000, encoding="utf-8")
    rc, out = convert(tmp_path, src, "clu")
    _refused(capsys, rc, out, "clu.json")
    (tmp_path / "group_vars" / "clu.json").unlink()
    big = tmp_path / "group_vars" / "clu"
    big.mkdir()
    for i in range(6):
        (big / f"v{i}.yml").write_text("k: '" + "x" * 900_000 + "'\n", encoding="utf-8")
    started = time.monotonic()
    rc, out = convert(tmp_path, src, "clu")
    _refused(capsys, rc, out, "larger than")
    assert time.monotonic() - started < 10
