"""Random healthy lab topologies (self-test): valid YAML text from a seed or a random source."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any, Protocol

# Names the generator mixes into VM and cluster names: spaces, both quotes, YAML indicators
# and non-ASCII letters, which the harness must carry through probes and reports unchanged.
_NAME_PARTS = (
    "web", "db", "app", "Ünïcode", "日本", "café", "O'Brien", 'say "hi"', "a: b", "#tag",
    "- dash", "ß", "Ωmega", "x", "srv", "Off", "yes", "null", "[1]", "{k}",
)  # fmt: skip
_HOST_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"


class Source(Protocol):
    """What the generator needs from a random source (random.Random, hypothesis randoms())."""

    def randint(self, a: int, b: int) -> int: ...

    def random(self) -> float: ...

    def choice(self, seq: Any) -> Any: ...


def _q(value: Any) -> str:
    # JSON strings are valid YAML double-quoted scalars: quotes, backslashes, `Off`-like words
    # and non-ASCII stay exactly as generated.
    return json.dumps(value, ensure_ascii=False)


def _flow(items: Iterable[Any]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


_HOST_PARTS = ("HV", "nœud", "O'Brien", 'Node "B"', "Ωmega", "host", "café", "日本", "x1", "srv")


def _hostname(rng: Source, taken: set[str]) -> str:
    # Half plain NetBIOS-style names, half with spaces, quotes and non-ASCII letters: the lab
    # accepts any name without path separators, and the harness must carry it intact.
    while True:
        if rng.random() < 0.5:
            size = rng.randint(1, 12)
            name = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "".join(
                rng.choice(_HOST_CHARS) for _ in range(size)
            )
            name = name.rstrip("-") or name
        else:
            parts = [rng.choice(_HOST_PARTS) for _ in range(rng.randint(1, 2))]
            name = " ".join(parts) + f" {rng.randint(1, 9)}"
        if name.lower() not in taken:
            taken.add(name.lower())
            return name


def _name(rng: Source, taken: set[str]) -> str:
    while True:
        parts = [rng.choice(_NAME_PARTS) for _ in range(rng.randint(1, 3))]
        name = " ".join(parts) + (f" {rng.randint(1, 99)}" if rng.random() < 0.5 else "")
        if name.casefold() not in taken:
            taken.add(name.casefold())
            return name


def _speed(rng: Source) -> str:
    return f"read_mb_s: {rng.randint(300, 2000)}, write_mb_s: {rng.randint(250, 1500)}"


ALL_STATES = ("Running",) * 6 + ("Off", "Saved", "Paused")
# Sizes on both sides of 4 GiB: a file or counter that overflows at 2^32 bytes shows up.
MEMORY_MIB = (512, 768, 1024, 2048, 3072, 4096, 4097, 6144, 8192, 16384)
# The configuration versions one cluster can run together: a Windows Server 2019 host runs
# 5.0 to 9.0, a Windows Server 2022 host 8.0 to 10.0, a Windows Server 2025 host 8.0 to 12.0
# (Microsoft's "Upgrade virtual machine version" page, see docs/windows-fidelity.md).
CLUSTER_VERSIONS = (
    ("5.0", "6.2", "7.0", "7.1", "8.0", "8.3", "9.0"),
    ("8.0", "9.0", "9.3", "10.0"),
    ("8.0", "9.0", "10.0", "11.0", "12.0"),
)


def generate_topology(rng: Source, states: tuple[str, ...] = ALL_STATES) -> str:
    """A healthy topology: 2-8 Up nodes, mixed storage, 4-30 VMs, tricky names; YAML text."""
    hosts: set[str] = set()
    versions = rng.choice(CLUSTER_VERSIONS)
    nodes = [_hostname(rng, hosts) for _ in range(rng.randint(2, 8))]
    outsider = _hostname(rng, hosts)
    out = ["# random healthy topology (qmaudit selftest)", "cluster:"]
    out.append(f"  name: {_q(_name(rng, set()))}")
    out.append(f"  move_type_threshold: {rng.choice([1000, 2000, 3000])}")
    out.append(f"  network_mb_s: {rng.randint(125, 2500)}")
    out.append("nodes:")
    for node in nodes:
        drive = rng.choice("CDE")
        drives = sorted({"C", drive})
        out.append(f"  - name: {_q(node)}")
        out.append("    state: Up")
        out.append(f"    program_data: {_q(drive + ':' + chr(92) + 'ProgramData')}")
        disks = ", ".join("{path: " + _q(d + ":\\") + ", " + _speed(rng) + "}" for d in drives)
        out.append(f"    local_disks: [{disks}]")
    out.append("non_members:")
    out.append(f"  - {{name: {_q(outsider)}}}")
    csvs = [f"C:\\ClusterStorage\\Volume{i + 1}" for i in range(rng.randint(1, 3))]
    disk_owners = [rng.choice(nodes) for _ in range(rng.randint(0, 3))]
    mounts = [f"{'FGH'[i]}:\\" for i in range(len(disk_owners))]
    shares = [f"\\\\FS{i + 1}\\VMs" for i in range(rng.randint(0, 2))]
    out.append("storage:")
    out.append("  csvs:")
    for i, path in enumerate(csvs):
        out.append(
            f"    - {{name: {_q(f'Cluster Disk {i + 1}')}, path: {_q(path)}, {_speed(rng)}}}"
        )
    out.append("  cluster_disks:" + (" []" if not mounts else ""))
    for i, (owner, mount) in enumerate(zip(disk_owners, mounts, strict=True)):
        name = _q(f"Cluster Disk {len(csvs) + i + 1}")
        out.append(f"    - {{name: {name}, mount: {_q(mount)}, owner: {_q(owner)}, {_speed(rng)}}}")
    out.append("  smb_shares:" + (" []" if not shares else ""))
    for path in shares:
        out.append(f"    - {{path: {_q(path)}, {_speed(rng)}}}")
    out.append("vms:")
    names: set[str] = set()
    free_disks = list(zip(disk_owners, mounts, strict=True))
    for _ in range(rng.randint(1, 27)):  # plus the three below: at most 30 VMs
        if free_disks and rng.random() < 0.3:
            owner, storage = free_disks.pop()
        else:
            owner, storage = rng.choice(nodes), rng.choice(csvs + shares)
        state = rng.choice(states)
        version = rng.choice(versions)
        out.append(f"  - name: {_q(_name(rng, names))}")
        out.append(f"    memory_mib: {rng.choice(MEMORY_MIB)}")
        out.append(f"    config_version: {_q(version)}")
        out.append(f"    state: {_q(state)}")
        out.append(f"    owner: {_q(owner)}")
        out.append(f"    storage: {_q(storage)}")
        out.append(f"    priority: {rng.choice([1000, 2000, 2000, 3000])}")
        if rng.random() < 0.3:
            enabled = rng.random() < 0.5
            out.append(f"    time_sync: {{enabled: {str(enabled).lower()}, functional: true}}")
        if rng.random() < 0.1:
            out.append("    passthrough_disk: true")
    # Three running VMs of three sizes on one CSV in direct I/O: a healthy cluster where every
    # claim can be judged. QM-09 moves three sizes from one volume; when only an SMB share holds
    # three sizes, its saves cross the cluster networks and the bytes sent cannot be told apart.
    for memory_mib in (1024, 2048, 3072):
        out.append(f"  - name: {_q(_name(rng, names))}")
        out.append(f"    memory_mib: {memory_mib}")
        out.append(f"    config_version: {_q(versions[0])}")
        out.append("    state: Running")
        out.append(f"    owner: {_q(nodes[0])}")
        out.append(f"    storage: {_q(csvs[0])}")
        out.append("    priority: 2000")
    out.append("rules_off: []")
    return "\n".join(out) + "\n"


def random_topology_text(seed: int, states: tuple[str, ...] = ALL_STATES) -> str:
    """The random topology of a seed (reproducible)."""
    return generate_topology(random.Random(seed), states)
