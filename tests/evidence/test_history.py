"""The nightly history index: torn lines, pruning, key measurements, Allure history config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InputError
from harness.evidence.history import History, allure_config, key_measurements, scenario_key


def entry(run_id: str, cluster: str = "QMLAB", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "cluster": cluster, "claims": {}, **extra}


def test_torn_last_line_is_reported_and_dropped_on_append(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.append(entry("r1"))
    history.append(entry("r2"))
    with history.index_path.open("a", encoding="utf-8") as handle:
        handle.write('{"run_id": "r3", "clus')  # a run killed while writing its line
    assert [e["run_id"] for e in history.entries()] == ["r1", "r2"]
    assert len(history.problems) == 1 and "torn last line" in history.problems[0]
    assert ":3:" in history.problems[0]
    history.append(entry("r4"))
    lines = history.index_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["r1", "r2", "r4"]


def test_corrupt_middle_line_is_named(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.index_path.write_text(
        json.dumps(entry("r1")) + "\nnot json\n" + json.dumps(entry("r2")) + "\n"
    )
    assert [e["run_id"] for e in history.entries()] == ["r1", "r2"]
    assert history.problems == [f"{history.index_path}:2: not JSON: ignored"]


def test_keep_last_n(tmp_path: Path) -> None:
    history = History(tmp_path)
    for i in range(5):
        kept = history.append(entry(f"r{i}"), keep=3)
    assert [e["run_id"] for e in kept] == ["r2", "r3", "r4"]
    assert [e["run_id"] for e in history.entries()] == ["r2", "r3", "r4"]
    with pytest.raises(InputError):
        history.append(entry("r9"), keep=0)


def test_allure_history_pruned_and_torn_line_dropped(tmp_path: Path) -> None:
    history = History(tmp_path)
    lines = [json.dumps({"uuid": str(i)}) for i in range(4)] + ['{"uuid": "tor']
    history.allure_path.write_text("\n".join(lines))
    history.append(entry("r1"), keep=2)
    kept = history.allure_path.read_text().splitlines()
    assert [json.loads(line)["uuid"] for line in kept] == ["2", "3"]
    assert any("torn" in p for p in history.problems)


def test_for_target_is_case_insensitive(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.append(entry("a", "CLU1"))
    history.append(entry("b", "clu2"))
    history.append(entry("c", "clu1"))
    assert [e["run_id"] for e in history.for_target("Clu1")] == ["a", "c"]


def test_key_measurements_take_the_largest_per_vm_value() -> None:
    records = [
        {
            "measurements": {
                "downtime per GiB (fit slope)": {"value": 2.4, "unit": "s/GiB"},
                "fit intercept": {"value": 0.5, "unit": "s"},
                "vm-a: bytes sent per GiB of memory": {"value": 100.0, "unit": "bytes/GiB"},
                "vm-b: bytes sent per GiB of memory": {"value": 300.0, "unit": "bytes/GiB"},
                "vm-a: bytes sent by the source": {"value": 9e9, "unit": "bytes"},
            }
        },
        {"measurements": {"clock lag gained": {"value": 3.0, "unit": "s"}}},
        {"measurements": {"clock lag gained": {"value": 1.0, "unit": "s"}}},
    ]
    assert key_measurements(records) == {
        "clock_lag": 3.0,
        "downtime_intercept": 0.5,
        "downtime_per_gib": 2.4,
        "network_bytes_per_gib": 300.0,
    }


def test_scenario_key_includes_example_parameters() -> None:
    one = {"claim": "QM-02", "scenario": "S", "params": {"storage": "CSV", "version": "5.0"}}
    two = {"claim": "QM-02", "scenario": "S", "params": {"storage": "SMB", "version": "5.0"}}
    assert scenario_key(one) != scenario_key(two)
    assert scenario_key(one) == "QM-02 S [storage=CSV] [version=5.0]"


def test_allure_config_extends_the_base_with_history(tmp_path: Path) -> None:
    base = tmp_path / "allurerc.mjs"
    base.write_text("export default {name: 'x'};\n")
    path = allure_config(History(tmp_path / "h"), 7, tmp_path / "out", base)
    text = path.read_text()
    assert base.resolve().as_uri() in text
    assert str((tmp_path / "h" / "allure-history.jsonl").resolve()) in text
    assert "historyLimit: 7" in text and "...base" in text


def test_runs_pair_by_kind_and_cluster(tmp_path: Path) -> None:
    """A lab named like a real cluster never pairs with that cluster's runs (compare, trend)."""
    history = History(tmp_path)
    history.append(entry("lab1", "PROD", kind="lab", target_spec="lab"))
    history.append(entry("inv1", "prod", kind="cluster", target_spec="prod.yaml"))
    history.append(entry("lab2", "PROD", kind="lab", target_spec="lab"))
    history.append(entry("other", "QMLAB", kind="lab", target_spec="lab"))
    # The newest run matching the name decides the kind; runs of another kind never join.
    assert [e["run_id"] for e in history.runs_of("prod")] == ["lab1", "lab2"]
    assert [e["run_id"] for e in history.runs_of("prod.yaml")] == ["inv1"]
    assert [e["run_id"] for e in history.runs_of(None)] == ["other"]
    assert history.runs_of("nothing") == []


def test_compare_last_and_trend_take_one_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.evidence.compare import last_two

    history = History(tmp_path / "h")
    for name, kind in (("a", "cluster"), ("b", "lab"), ("c", "cluster")):
        (tmp_path / name).mkdir()
        history.append(entry(name, "PROD", kind=kind, run_dir=str(tmp_path / name)))
    assert last_two(history, None) == (tmp_path / "a", tmp_path / "c")
    (tmp_path / "d").mkdir()
    history.append(entry("d", "PROD", kind="lab", run_dir=str(tmp_path / "d")))
    assert last_two(history, None) == (tmp_path / "b", tmp_path / "d")
    history.append(entry("e", "PROD", kind="cluster", run_dir=str(tmp_path / "e")))
    assert last_two(history, None) == (tmp_path / "a", tmp_path / "c")  # e's folder is gone
    only = History(tmp_path / "h2")
    only.append(entry("a", "PROD", kind="cluster", run_dir=str(tmp_path / "a")))
    only.append(entry("b", "PROD", kind="lab", run_dir=str(tmp_path / "b")))
    with pytest.raises(InputError, match="fewer than two runs of lab target 'PROD'"):
        last_two(only, None)
