"""History, compare and trend are total: any line or folder shape is a notice, a skip or a
clean refusal (exit 2), never an exception; and deleted evidence is never "no regression"."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.evidence.compare import compare_entries, parse_thresholds
from harness.evidence.history import History
from harness.evidence.manifest import write_manifest
from harness.evidence.trend import flaky_claims
from tests.evidence.test_compare import RA, RB, make_run

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Lines shaped like entries, with any value in any field.
ENTRY = st.fixed_dictionaries(
    {"run_id": st.text(max_size=6) | JSON},
    optional={
        k: JSON | st.dictionaries(st.text(max_size=6), JSON, max_size=3)
        for k in ("claims", "scenarios", "measurements", "cluster", "target_spec", "run_dir")
    },
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(JSON | ENTRY, max_size=6), raw=st.binary(max_size=40))
def test_any_index_line_is_a_notice_never_an_exception(
    tmp_path_factory: pytest.TempPathFactory, lines: list[Any], raw: bytes
) -> None:
    folder = tmp_path_factory.mktemp("h")
    text = "\n".join(json.dumps(line) for line in lines).encode() + b"\n" + raw
    (folder / "index.jsonl").write_bytes(text)
    history = History(folder)
    entries = history.entries()
    for entry in entries:  # what is accepted is usable by every reader
        history.for_target(str(entry.get("cluster")))
    flaky_claims(entries)
    for a, b in itertools.pairwise(entries):
        compare_entries(a, b, parse_thresholds([]))


def test_bad_line_and_huge_line_do_not_stop_appending(tmp_path: Path) -> None:
    history = History(tmp_path)
    good = {"run_id": "r1", "claims": {"QM-01": "passed"}, "cluster": "C"}
    lines = [
        json.dumps(good),
        '{"run_id": 5, "claims": []}',
        '{"run_id": "r2", "claims": "x"}',
        "[" * 100_000,
        "x" * (2 << 20),
    ]
    history.index_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept = history.append({"run_id": "r3", "claims": {}, "cluster": "C"}, keep=5)
    assert [e["run_id"] for e in kept] == ["r1", "r3"]
    assert len(history.problems) == 4 and all("ignored" in p for p in history.problems)


def test_compare_refuses_a_run_whose_evidence_was_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "failed", 3.0)
    for record in (b / "evidence").iterdir():
        record.unlink()
    # The evidence gone, with or without the manifest rewritten to match: never "no regression".
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c1")]) == 2
    write_manifest(b, RB, {"target_spec": "lab+sim"})
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c2")]) == 2
    out = capsys.readouterr()
    assert "no regression" not in out.out and "Traceback" not in out.err
    assert "no evidence record" in out.err


def _edit_manifest(run: Path, edit: Any) -> None:
    path = run / "manifest.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["files"].append(dict(d["files"][0])),  # listed twice
        lambda d: d["files"].append({"path": "../../etc/passwd", "sha256": "0"}),
        lambda d: d["files"].append({"path": "/etc/passwd", "sha256": "0"}),
        lambda d: d["files"].append("evidence/x.json"),
        lambda d: d.update(files=[None]),
        lambda d: d.update(target=[1]),
        lambda d: d.update(run_id=None),
    ],
)
def test_compare_refuses_hostile_manifests(
    tmp_path: Path, edit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "passed", 2.0)
    _edit_manifest(b, edit)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs")
def test_compare_never_blocks_on_a_fifo_record(tmp_path: Path) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "passed", 2.0)
    os.mkfifo(b / "evidence" / "002-fifo.json")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 2


def test_trend_runs_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trend", "--history", str(tmp_path), "--runs", "2000"]) == 2
    assert "between 2 and" in capsys.readouterr().err


def test_compare_names_too_long_for_the_file_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_run(tmp_path, RA, "passed", 2.0)
    b = make_run(tmp_path, RB, "passed", 2.0)
    _edit_manifest(b, lambda d: d["files"].append({"path": "x" * 5000, "sha256": "0"}))
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["verify", str(b)]) == 1
    assert "Traceback" not in capsys.readouterr().err
