"""Median latency per read probe over WinRM: qmaudit's reused shell vs pywinrm's run_ps."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, NamedTuple

import winrm

from harness.drivers.lab import lab_endpoints
from harness.drivers.winrm import WinRMDriver
from harness.lab.clock import ScaledClock
from harness.lab.model import LabCluster
from harness.lab.responder import LabResponder
from harness.lab.serve import LabServer
from harness.lab.topology import Topology, load_default_topology
from harness.probes.protocol import build_script
from harness.transport import WinRMSession
from harness.transport.delivery import CMD_MAX_CHARS, ScriptDelivery, encode_command

TOO_LONG = b"The command line is too long."
# Windows PowerShell 5.1 took about 600 ms to start, measured by the PowerShell team
# (PowerShell/PowerShell issue 4239); module imports (FailoverClusters, Hyper-V) come on top and
# are not included: no public figure was found.
DEFAULT_START_COST_MS = 600.0


class Figures(NamedTuple):
    """Milliseconds per probe for each side, and the probes run_ps could not send."""

    ours: dict[str, list[float]]
    plain: dict[str, list[float]]
    full: dict[str, list[float]]
    refused: dict[str, int]


def run_ps_line_length(script: str) -> int:
    """Length of the command line pywinrm's run_ps sends: the whole script as -encodedcommand."""
    return len(f"powershell -encodedcommand {encode_command(script)}")


def read_probes(topology: Topology) -> list[tuple[str, dict[str, Any], str]]:
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
        ("cluster_events", {"since_utc": "2020-01-01T00:00:00Z", "ids": [1641]}, first),
        ("path_info", {"path": topology.csvs[0].path}, first),
        ("network_counters", {}, first),
        ("move_status", {"vm_names": [vm.name]}, first),
    ]


def measure(
    topology: Topology,
    probes: list[tuple[str, dict[str, Any], str]],
    rounds: int,
    start_cost_s: float,
) -> Figures:
    """Time every probe `rounds` times three ways against a served lab."""
    cluster = LabCluster(topology, ScaledClock(speed=20.0))
    ours: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    plain: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    full: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    refused: dict[str, int] = {}  # probe -> run_ps command-line length, when over the limit
    with LabServer(
        topology, responder=LabResponder(cluster), auth=("ntlm",), command_start_s=start_cost_s
    ) as server:
        assert server.credentials is not None
        endpoints = lab_endpoints(server, "ntlm")
        driver = WinRMDriver(endpoints)
        ours_sessions = {ep.node: WinRMSession(ep) for ep in endpoints}
        auth = (server.credentials.qualified_username, server.credentials.password)
        sessions = {
            host: winrm.Session(url, auth=auth, transport="ntlm", message_encryption="always")
            for host, url in server.endpoints.items()
        }
        # Warm-up: the first call of each side opens connections and shells.
        for name, params, node in probes:
            driver.run_probe(name, params, node)
            ours_sessions[node].run_script(build_script(name, params), idempotent=True)
        for _ in range(rounds):
            # Interleaved, so that load on the machine hits both sides alike.
            for name, params, node in probes:
                script = build_script(name, params)
                t0 = time.perf_counter()
                result = ours_sessions[node].run_script(script, idempotent=True)
                ours[name].append((time.perf_counter() - t0) * 1000)
                if result.exit_code != 0:
                    print(f"qmaudit {name} failed: {result.stderr}", file=sys.stderr)
                    raise SystemExit(1)
                t0 = time.perf_counter()
                driver.run_probe(name, params, node)
                full[name].append((time.perf_counter() - t0) * 1000)
                if name in refused:
                    continue
                t0 = time.perf_counter()
                response = sessions[node].run_ps(script)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 0:
                    if TOO_LONG in response.std_err:
                        # Like Windows, the lab refuses the whole probe on the command line.
                        refused[name] = run_ps_line_length(script)
                        continue
                    print(f"run_ps {name} failed: {response.std_err!r}", file=sys.stderr)
                    raise SystemExit(1)
                plain[name].append(elapsed)
        driver.close()
        for session in ours_sessions.values():
            session.close()
    return Figures(ours, plain, full, refused)


def report(
    probes: list[tuple[str, dict[str, Any], str]],
    figures: Figures,
    rounds: int,
    start_cost_s: float,
) -> None:
    """Print one table of medians."""
    ours, plain, full, refused = figures.ours, figures.plain, figures.full, figures.refused
    cost = f"{start_cost_s * 1000:g} ms" if start_cost_s else "off"
    print(f"probe latency over WinRM, NTLM + message encryption, {rounds} rounds (ms, median)")
    print(f"lab per-command start cost (powershell.exe start on Windows): {cost}")
    print("qmaudit = WinRMSession.run_script (shell reused, script on stdin); run_ps = pywinrm")
    print("Session.run_ps (new shell per call, script on the command line); ratio = run_ps /")
    print("qmaudit; driver = WinRMDriver.run_probe, i.e. qmaudit's transport plus JSON parsing and")
    print(
        f"schema validation. run_ps 'refused' = its command line exceeds {CMD_MAX_CHARS} characters"
    )
    print(
        "and the endpoint answers 'The command line is too long.' (exit code 1), as Windows does."
    )
    print(f"{'probe':<20} {'qmaudit':>9} {'run_ps':>9} {'ratio':>7} {'driver':>9}")
    for name, _, _ in probes:
        a, c = statistics.median(ours[name]), statistics.median(full[name])
        if name in refused:
            note = f"refused ({refused[name]} chars)"
            print(f"{name:<20} {a:>9.1f} {'-':>9} {'-':>7} {c:>9.1f}  run_ps {note}")
            continue
        b = statistics.median(plain[name])
        print(f"{name:<20} {a:>9.1f} {b:>9.1f} {b / a:>6.2f}x {c:>9.1f}")
    all_ours = statistics.median(x for v in ours.values() for x in v)
    all_full = statistics.median(x for v in full.values() for x in v)
    print(f"{'all probes':<20} {all_ours:>9.1f} {'-':>9} {'-':>7} {all_full:>9.1f}")
    fitting = [name for name, _, _ in probes if name not in refused]
    if fitting:
        same_ours = statistics.median(x for n in fitting for x in ours[n])
        same_plain = statistics.median(x for n in fitting for x in plain[n])
        ratio = same_plain / same_ours
        label = f"run_ps-able ({len(fitting)})"
        print(f"{label:<20} {same_ours:>9.1f} {same_plain:>9.1f} {ratio:>6.2f}x")
    print(f"run_ps refused {len(refused)} of {len(probes)} probes; qmaudit's command line is")
    print(
        f"{max(len(ScriptDelivery.of(build_script(n, p)).command_line) for n, p, _ in probes)} "
        "characters for every probe"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="rounds per probe (default 30)")
    parser.add_argument(
        "--start-cost-ms",
        type=float,
        default=DEFAULT_START_COST_MS,
        help="per-command start cost for the second table (default %(default)g ms; 0: skip it)",
    )
    parser.add_argument(
        "--cost-rounds", type=int, default=3, help="rounds with the start cost on (default 3)"
    )
    args = parser.parse_args(argv)
    topology = load_default_topology()
    probes = read_probes(topology)
    report(probes, measure(topology, probes, args.rounds, 0.0), args.rounds, 0.0)
    if args.start_cost_ms > 0:
        cost_s = args.start_cost_ms / 1000
        print()
        figures = measure(topology, probes, args.cost_rounds, cost_s)
        report(probes, figures, args.cost_rounds, cost_s)
        print("With a start cost every WinRS command pays it, qmaudit and run_ps alike: it")
        print("dominates the per-probe time. A persistent PowerShell runspace per node (PSRP)")
        print("would pay it once per node, leaving per-probe times near the first table's.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
