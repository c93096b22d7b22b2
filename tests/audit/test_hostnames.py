"""Lab host names: anything a harness must carry intact is accepted, path-like names are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

DEFAULT = Path(__file__).resolve().parents[2] / "harness" / "lab" / "topologies" / "default.yaml"


def _with_node_a_named(tmp_path: Path, name: str) -> Path:
    text = DEFAULT.read_text(encoding="utf-8").replace("HV-A", name)
    path = tmp_path / "topology.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["Nœud A", "O'Brien-B", "Ωmega 7", "host 日本"])
def test_odd_host_names_are_accepted(tmp_path: Path, name: str) -> None:
    assert main(["lab", "validate", str(_with_node_a_named(tmp_path, name))]) == 0


@pytest.mark.parametrize("name", ["'a\\b'", "a/b", "'x:y'", "' lead'"])
def test_path_like_host_names_are_rejected(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lab", "validate", str(_with_node_a_named(tmp_path, name))]) == 2
    err = capsys.readouterr().err
    # Every place naming the node is wrong; the first one found is reported, with its path.
    assert "topology.yaml: $." in err and name.strip("'").replace("\\", "\\\\") in err
