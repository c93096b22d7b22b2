"""Hostile YAML for every file kind: exit 2, file + JSON path + reason, no traceback, bounded cost.

Each input is generated at test time (alias bomb, deep nesting, a file over the size limit,
NaN/inf, numbers that overflow) and fed to the real command in a subprocess, which measures its
own CPU time and peak memory around the check with resource.getrusage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.lab.topology import DEFAULT_TOPOLOGY
from harness.yamlfile import MAX_BYTES, MAX_DEPTH

ROOT = Path(__file__).resolve().parents[1]
CPU_LIMIT_S = 1.0
MEMORY_LIMIT_MB = 100

# Runs the qmaudit command in-process so that only the check itself is measured (imports and
# interpreter start are outside the window); prints the figures as the last stdout line.
_MEASURE = """
import json, resource, sys
import harness.cli, harness.lab.topology, harness.targets.inventory, harness.selftest.matrix
before = resource.getrusage(resource.RUSAGE_SELF)
rc = harness.cli.main(sys.argv[1:])
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
grown_mb = (after.ru_maxrss - before.ru_maxrss) / 1024
print(json.dumps({"rc": rc, "cpu_s": cpu, "grown_mb": grown_mb}))
"""


def alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def lone_alias() -> str:
    return "cluster: {name: &n LAB}\nnodes: [{name: *n}]\n"


def deep_flow() -> str:
    return "cluster: " + "[" * 200_000 + "]" * 200_000 + "\n"


def deep_block() -> str:
    return "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)) + " " * 50 + "v: 1\n"


def big_file() -> str:
    return "cluster: {name: LAB}\n" + "".join(f"# {i:08d} padding\n" for i in range(70_000))


def nan_value() -> str:
    return "cluster: {name: LAB, network_mb_s: .nan}\nnodes: []\n"


def inf_value() -> str:
    return "cluster: {name: LAB}\nnodes: [{name: N1, local_disks: [{read_mb_s: -.inf}]}]\n"


def huge_int() -> str:
    return "cluster: {name: LAB, move_type_threshold: " + "9" * 200_000 + "}\n"


def over_2_53() -> str:
    return "cluster: {name: LAB}\nvms: [{memory_mib: 18014398509481984}]\n"


def many_values() -> str:
    return "cluster: {name: LAB}\nnodes: [" + ", ".join(["1"] * 200_000) + "]\n"


CASES: list[tuple[str, Callable[[], str], str, str]] = [
    ("alias bomb", alias_bomb, "$.a0", "anchors"),
    ("lone alias", lone_alias, "$.cluster.name", "anchors"),
    ("deep flow nesting", deep_flow, "$.cluster[0][0]", f"nested deeper than {MAX_DEPTH}"),
    ("deep block nesting", deep_block, "$.k0.k1.k2", f"nested deeper than {MAX_DEPTH}"),
    ("file over the limit", big_file, ": $: ", f"larger than the limit of {MAX_BYTES} bytes"),
    ("NaN", nan_value, "$.cluster.network_mb_s", "NaN, infinities"),
    ("infinity", inf_value, "$.nodes[0].local_disks[0].read_mb_s", "NaN, infinities"),
    ("huge integer", huge_int, "$.cluster.move_type_threshold", "number out of range"),
    ("beyond 2^53", over_2_53, "$.vms[0].memory_mib", "number out of range"),
    ("too many values", many_values, "$.nodes[", "values in one file"),
]

# How each file kind is read by the command a user runs.
KINDS: dict[str, Callable[[Path], list[str]]] = {
    "topology": lambda f: ["lab", "validate", str(f)],
    "inventory": lambda f: ["check-inventory", str(f)],
    "profile": lambda f: ["selftest", "--profile", str(f)],
}


def run_measured(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    lines = proc.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if lines else {}
    return proc, figures


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("name", "make", "where", "reason"), CASES, ids=[c[0] for c in CASES])
def test_hostile_yaml_is_refused_quickly(
    tmp_path: Path,
    kind: str,
    name: str,
    make: Callable[[], str],
    where: str,
    reason: str,
) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(make(), encoding="utf-8")
    proc, figures = run_measured(KINDS[kind](path), tmp_path)
    assert figures.get("rc") == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr + proc.stdout
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(f"qmaudit: error: {path}: "), message
    assert where in message, message
    assert reason in message, message
    assert figures["cpu_s"] < CPU_LIMIT_S, figures
    assert figures["grown_mb"] < MEMORY_LIMIT_MB, figures
    assert not (tmp_path / "reports").exists(), "nothing may be written for a refused file"


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    # A sparse 2 GiB file: reading it would take seconds and gigabytes; the check must not.
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(2 * 1024**3)
    proc, figures = run_measured(["lab", "validate", str(path)], tmp_path)
    assert figures.get("rc") == 2, proc.stderr
    assert f"{path}: $: larger than the limit of {MAX_BYTES} bytes" in proc.stderr
    assert figures["cpu_s"] < CPU_LIMIT_S and figures["grown_mb"] < MEMORY_LIMIT_MB, figures


@pytest.mark.parametrize(
    ("after", "added", "where"),
    [
        ("  - name: web 01", "    clock_offset_s: 1.0e+15", "$.vms[0].clock_offset_s"),
        ("cluster:", "  start_utc: '9999-12-31T23:59:59Z'", "$.cluster.start_utc"),
        ("  - name: web 01", "    guest_boot_time: '0001-01-01T00:00:00+01:00'", "$.vms[0]"),
    ],
)
def test_values_whose_use_would_overflow_are_refused(
    tmp_path: Path, after: str, added: str, where: str
) -> None:
    from harness.errors import InputError
    from harness.lab.topology import load_topology

    lines = DEFAULT_TOPOLOGY.read_text(encoding="utf-8").splitlines()
    lines.insert(lines.index(after) + 1, added)
    path = tmp_path / "t.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_topology(path)
    assert info.value.location.startswith(where), info.value.message


def test_throughput_beyond_any_storage_is_refused(tmp_path: Path) -> None:
    from harness.errors import InputError
    from harness.lab.topology import load_topology

    text = DEFAULT_TOPOLOGY.read_text(encoding="utf-8")
    path = tmp_path / "t.yaml"
    path.write_text(text.replace("network_mb_s: 1250", "network_mb_s: 1.0e+12"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_topology(path)
    assert info.value.location == "$.cluster.network_mb_s", info.value.message


def test_good_files_still_load() -> None:
    from harness.lab.topology import load_default_topology
    from harness.selftest.profiles import shipped_profiles

    assert load_default_topology().vms
    assert len(shipped_profiles()) > 20
