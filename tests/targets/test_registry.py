"""The target registry: every documented spec form parses once to the right kind and opens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.errors import InputError
from harness.lab.topology import DEFAULT_TOPOLOGY
from harness.run.runguard import recorded_spec
from harness.suite.selection import check_run_selection
from harness.targets.registry import KINDS, open_target, parse_spec


@pytest.fixture
def topologies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The built-in topology copied as my-lab.yaml and my-lab.yml into the working folder."""
    for name in ("my-lab.yaml", "my-lab.yml"):
        shutil.copyfile(DEFAULT_TOPOLOGY, tmp_path / name)
    (tmp_path / "sub").mkdir()
    shutil.copyfile(DEFAULT_TOPOLOGY, tmp_path / "sub" / "other lab.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "kind", "path"),
    [
        ("lab", "lab", None),
        ("lab:my-lab.yaml", "lab", "my-lab.yaml"),
        ("lab:my-lab.yml", "lab", "my-lab.yml"),
        ("lab:sub/other lab.yaml", "lab", "sub/other lab.yaml"),
        ("lab+inproc", "lab+inproc", None),
        ("lab+inproc:my-lab.yaml", "lab+inproc", "my-lab.yaml"),
        ("lab+inproc:my-lab.yml", "lab+inproc", "my-lab.yml"),
        ("lab+sim", "lab+sim", None),
        ("lab+sim:my-lab.yaml", "lab+sim", "my-lab.yaml"),
        ("lab+sim:./my-lab.yml", "lab+sim", "./my-lab.yml"),
        ("  lab+sim:my-lab.yml ", "lab+sim", "my-lab.yml"),
    ],
)
def test_lab_specs_parse_to_their_kind(topologies: Path, text: str, kind: str, path: str) -> None:
    spec = parse_spec(text)
    assert (spec.kind, spec.path, spec.text) == (kind, path, text.strip())
    assert parse_spec(spec) is spec  # a parsed spec is never parsed again


@pytest.mark.parametrize("name", ["prod.yaml", "prod.yml", "prod.json", "dir/prod.YAML"])
def test_inventory_specs_parse_to_inventory(name: str) -> None:
    spec = parse_spec(name, check=False)
    assert (spec.kind, spec.path, spec.is_inventory) == ("inventory", name, True)


@pytest.mark.parametrize("text", ["nonsense", "lab:", "lab+sim:", "lab+foo", "replay", ""])
def test_unknown_specs_name_every_kind(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_spec(text)
    assert "unknown target" in info.value.message
    for kind in KINDS:
        assert kind.usage in info.value.message


def test_lab_prefix_with_yaml_is_a_topology_not_an_inventory(topologies: Path) -> None:
    # The inventory reader would refuse a topology file (unknown keys): it must not be asked.
    check_run_selection(parse_spec("lab:my-lab.yaml"), "core")
    check_run_selection("lab+inproc:my-lab.yml", None)
    with pytest.raises(InputError) as info:
        parse_spec("lab:missing.yaml")
    assert "missing.yaml" in info.value.message


def test_recorded_spec_is_absolute(topologies: Path) -> None:
    assert recorded_spec("lab:my-lab.yml") == f"lab:{topologies / 'my-lab.yml'}"
    assert recorded_spec("lab+sim") == "lab+sim"
    assert recorded_spec("prod.yaml") == str(topologies / "prod.yaml")
    reparsed = parse_spec(recorded_spec("lab+inproc:sub/other lab.yaml"))
    assert Path(str(reparsed.path)) == topologies / "sub" / "other lab.yaml"


@pytest.mark.parametrize(
    "text", ["lab+inproc:my-lab.yaml", "lab+inproc:my-lab.yml", "lab+sim:my-lab.yml", "lab+sim"]
)
def test_in_process_specs_open(topologies: Path, text: str) -> None:
    target = open_target(parse_spec(text))
    try:
        assert target.kind == "lab" and target.spec == text
        assert target.lab is not None and target.lab.topology.cluster.name == "QMLAB"
        doc = target.driver.run_probe("cluster_inventory", {}, target.driver.nodes[0])
        assert doc["cluster"]["name"] == "QMLAB"
    finally:
        target.close()


def test_served_lab_with_relative_yml_opens(topologies: Path) -> None:
    target = open_target("lab:my-lab.yml", lab_speed=50.0)
    try:
        assert target.spec == "lab:my-lab.yml" and "WinRM" in target.transport
        doc = target.driver.run_probe("host_info", {}, target.driver.nodes[0])
        assert doc["cluster_name"] == "QMLAB"
    finally:
        target.close()


@pytest.mark.parametrize("command", ["run", "plan"])
def test_help_lists_every_target_kind(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in KINDS:
        assert kind.usage in text


def test_run_with_lab_topology_yaml_runs(
    topologies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The README's `--target lab:<file>.yaml` form end to end (lab+sim: the same parsing).
    rc = main(["run", "--target", "lab+sim:my-lab.yaml", "-m", "QM-13", "--no-report"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "lab+sim:my-lab.yaml" in out
    assert list((topologies / "reports").glob("*/evidence/*.json"))
