"""Probe latency side by side: WinRS per probe, pywinrm's run_ps and the PSRP runspace per node.

    python benchmarks/probe_latency.py --windows-cost

serves the lab over WinRM on loopback with Windows' real-time probe costs (harness/lab/cost.py:
powershell.exe start, FailoverClusters/Hyper-V import, command in a runspace; figures and sources
in docs/windows-fidelity.md) and, in one run, interleaved so load hits every side alike:

- per read probe, the median of each transport: qmaudit's WinRS session (one shell, a new
  powershell.exe per probe), pywinrm's Session.run_ps (a new shell and powershell.exe per
  probe, the script on the command line) and qmaudit's PSRP session (one runspace per node);
- the full audit's probe overhead: the probe calls of a default audit (counted from the
  transcripts of a lab+sim run, or --audit-reports) times each transport's median per probe;
- the poll interval achieved during a move (move_status, then vm_details on the source: one
  poll of Cluster.watch), per transport;
- last line: `runspace speedup: N.Nx` = WinRS-per-probe median / runspace median.

Without --windows-cost the lab answers instantly and the figures show transport overhead only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import winrm

from harness.domain import events
from harness.drivers.lab import lab_endpoints
from harness.lab.clock import ScaledClock
from harness.lab.cost import OFF, WindowsCost
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.serve import LabServer
from harness.lab.topology import Topology, load_default_topology
from harness.probes.protocol import build_script
from harness.transport.psrp import PsrpSession
from harness.transport.session import WinRMSession

TOO_LONG = b"The command line is too long."
SIDES = ("winrs", "run_ps", "psrp")
LABELS = {"winrs": "WinRS/probe", "run_ps": "run_ps", "psrp": "PSRP"}
Probe = tuple[str, dict[str, Any], str]


def read_probes(topology: Topology) -> list[Probe]:
    """One call per read probe, guests asked on their owner node."""
    vm = next(v for v in topology.vms if v.state == "Running")
    first = topology.nodes[0].name
    return [
        ("host_info", {}, first),
        ("cluster_inventory", {}, first),
        ("vm_details", {"vm_id": vm.vm_id}, vm.owner),
        ("vm_registration", {"vm_id": vm.vm_id}, vm.owner),
        ("vm_resources", {"vm_id": vm.vm_id}, first),
        ("guest_clock", {"vm_name": vm.name}, vm.owner),
        ("guest_kvp", {"vm_name": vm.name}, vm.owner),
        (
            "cluster_events",
            {"since_utc": "2020-01-01T00:00:00Z", "queries": events.queries([1641])},
            first,
        ),
        ("path_info", {"path": topology.csvs[0].path}, first),
        ("network_counters", {}, first),
        ("move_status", {"vm_names": [vm.name]}, first),
    ]


class Sides:
    """The three transports, per node, against one served lab."""

    def __init__(self, server: LabServer) -> None:
        assert server.credentials is not None
        endpoints = lab_endpoints(server, "ntlm")
        self.winrs = {ep.node: WinRMSession(ep) for ep in endpoints}
        self.psrp = {ep.node: PsrpSession(ep) for ep in endpoints}
        auth = (server.credentials.qualified_username, server.credentials.password)
        self.run_ps = {
            host: winrm.Session(url, auth=auth, transport="ntlm", message_encryption="always")
            for host, url in server.endpoints.items()
        }

    def run_ps_short(self, node: str) -> float:
        """Milliseconds of run_ps with a one-line script (the lab fails it after the start)."""
        t0 = time.perf_counter()
        self.run_ps[node].run_ps("$PSVersionTable.PSVersion")
        return (time.perf_counter() - t0) * 1000

    def call(self, side: str, node: str, script: str) -> tuple[float, str | None]:
        """Milliseconds of one call, and the refusal text when run_ps cannot send it."""
        t0 = time.perf_counter()
        if side == "run_ps":
            response = self.run_ps[node].run_ps(script)
            elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 0:
                if TOO_LONG in response.std_err:
                    return elapsed, "refused"
                raise SystemExit(f"run_ps failed: {response.std_err[:300]!r}")
            return elapsed, None
        session = self.winrs[node] if side == "winrs" else self.psrp[node]
        result = session.run_script(script, idempotent=True)
        elapsed = (time.perf_counter() - t0) * 1000
        if result.exit_code != 0:
            raise SystemExit(f"{side} failed: {result.stderr[:300]}")
        return elapsed, None

    def close(self) -> None:
        for session in self.winrs.values():
            session.close()
        for psrp in self.psrp.values():
            psrp.close()


def per_probe(sides: Sides, probes: list[Probe], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Milliseconds per probe and side; a run_ps refusal is recorded as NaN."""
    times: dict[str, dict[str, list[float]]] = {s: {n: [] for n, _, _ in probes} for s in SIDES}
    for name, params, node in probes:  # warm-up: connections, shells, runspaces
        for side in SIDES:
            sides.call(side, node, build_script(name, params))
    for _ in range(rounds):
        for name, params, node in probes:
            script = build_script(name, params)
            for side in SIDES:
                elapsed, refused = sides.call(side, node, script)
                times[side][name].append(float("nan") if refused else elapsed)
    first = probes[0][2]
    sides.run_ps_short(first)
    times["run_ps"]["(one-line script)"] = [sides.run_ps_short(first) for _ in range(rounds)]
    return times


def poll_intervals(sides: Sides, topology: Topology, polls: int) -> dict[str, list[float]]:
    """Real milliseconds between polls while a VM is moved: move_status + vm_details on source."""
    out: dict[str, list[float]] = {}
    running = [v for v in topology.vms if v.state == "Running"]
    first = topology.nodes[0].name
    for node in sides.psrp:  # every runspace and shell open before timing
        for side in ("winrs", "psrp"):
            sides.call(side, node, build_script("host_info", {}))
    for index, side in enumerate(s for s in SIDES if s != "run_ps"):
        vm = running[index % len(running)]
        target = next(n.name for n in topology.nodes if n.name != vm.owner)
        move = build_script("move_vm", {"vm_names": [vm.name], "node": target})
        sides.psrp[first].run_script(move)  # the same request whatever the poller's transport
        status = build_script("move_status", {"vm_names": [vm.name]})
        details = build_script("vm_details", {"vm_id": vm.vm_id})
        stamps = []
        for _ in range(polls + 1):
            stamps.append(time.perf_counter())
            sides.call(side, first, status)
            sides.call(side, vm.owner, details)
        out[side] = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    return out


def audit_mix(reports: Path | None, topology_file: str | None) -> Counter[str]:
    """Probe calls of a full default audit, by probe, from evidence transcripts."""
    if reports is None:
        tmp = Path(tempfile.mkdtemp(prefix="qm-bench-"))
        spec = "lab+sim" + (f":{topology_file}" if topology_file else "")
        cmd = [sys.executable, "-m", "harness.cli", "run", "--target", spec, "--no-report"]
        subprocess.run([*cmd, "--reports", str(tmp)], capture_output=True, check=False)
        reports = tmp
    mix: Counter[str] = Counter()
    for path in reports.glob("*/evidence/*.json"):
        for call in json.loads(path.read_text(encoding="utf-8")).get("transcript") or []:
            mix[call["probe"]] += 1
    return mix


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]  # drop NaN (refused)
    return statistics.median(clean) if clean else float("nan")


def report(
    probes: list[Probe],
    times: dict[str, dict[str, list[float]]],
    polls: dict[str, list[float]],
    mix: Counter[str],
    cost: WindowsCost,
    rounds: int,
) -> float:
    print(f"probe latency, lab over WinRM (NTLM + encryption), {rounds} rounds, median ms")
    print(f"Windows cost: {cost.describe()}")
    print("WinRS/probe = qmaudit's WinRS session (one shell; a powershell.exe per probe);")
    print("run_ps = pywinrm Session.run_ps (new shell and powershell.exe, script on the command")
    print("line: 'refused' when over cmd.exe's 8,191 characters); PSRP = one runspace per node")
    print(f"{'probe':<20} {'WinRS/probe':>12} {'run_ps':>10} {'PSRP':>8} {'speedup':>8}")
    for name, _, _ in probes:
        w, r, p = (median(times[s][name]) for s in SIDES)
        rs = "refused" if r != r else f"{r:.1f}"
        print(f"{name:<20} {w:>12.1f} {rs:>10} {p:>8.1f} {w / p:>7.1f}x")
    names = [name for name, _, _ in probes]
    all_ = {s: median([x for n in names for x in times[s][n]]) for s in SIDES}
    ra = "refused" if all_["run_ps"] != all_["run_ps"] else f"{all_['run_ps']:.1f}"
    print(
        f"{'all probes':<20} {all_['winrs']:>12.1f} {ra:>10} "
        f"{all_['psrp']:>8.1f} {all_['winrs'] / all_['psrp']:>7.1f}x"
    )
    short = median(times["run_ps"].get("(one-line script)", []))
    if short == short:
        print(f"{'run_ps, one line':<20} {'':>12} {short:>10.1f}   (no probe fits its command")
        print(f"{'':<20} {'':>12} {'':>10}    line; a one-line script pays the same start)")
    total = sum(mix.values())
    print()
    print(f"full audit: {total} probe calls (default audit's transcripts); probe overhead =")
    print("calls x that probe's median (probes not timed here: the all-probes median)")
    for side in SIDES:
        seconds = 0.0
        for name, count in mix.items():
            m = median(times[side][name]) if name in times[side] else float("nan")
            seconds += count * (m if m == m else all_[side])
        if seconds == seconds:
            print(f"  {LABELS[side]:<12} {seconds / 60000:>7.1f} min")
        else:
            print(f"  {LABELS[side]:<12} {'-':>7} (cannot send the probes)")
    print()
    print("poll interval during a move (move_status + vm_details on the source), real ms")
    for side, values in polls.items():
        print(
            f"  {LABELS[side]:<12} median {statistics.median(values):>7.1f}  "
            f"max {max(values):>7.1f}  ({len(values)} polls)"
        )
    speedup = all_["winrs"] / all_["psrp"]
    return speedup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--windows-cost", action="store_true", help="charge Windows' real-time probe costs"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per probe (default 3)")
    parser.add_argument("--polls", type=int, default=5, help="polls per transport (default 5)")
    parser.add_argument(
        "--audit-reports",
        type=Path,
        default=None,
        help="reports folder of a default audit to count probe calls from (default: run one "
        "on lab+sim, about a minute)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.polls < 1:
        parser.error("--rounds and --polls must be at least 1")
    topology = load_default_topology()
    cost = WindowsCost.measured() if args.windows_cost else OFF
    probes = read_probes(topology)
    mix = audit_mix(args.audit_reports, None)
    cluster = LabCluster(topology, ScaledClock(speed=20.0))
    with LabServer(topology, responder=LabResponder(cluster), auth=("ntlm",), cost=cost) as server:
        sides = Sides(server)
        try:
            times = per_probe(sides, probes, args.rounds)
            polls = poll_intervals(sides, topology, args.polls)
        finally:
            sides.close()
    speedup = report(probes, times, polls, mix, cost, args.rounds)
    print(f"runspace speedup: {speedup:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
