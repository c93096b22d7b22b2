"""Median latency per read probe over WinRM: qmaudit's reused shell vs pywinrm's run_ps."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="rounds per probe (default 30)")
    args = parser.parse_args(argv)
    topology = load_default_topology()
    cluster = LabCluster(topology, ScaledClock(speed=20.0))
    probes = read_probes(topology)
    ours: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    plain: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    full: dict[str, list[float]] = {name: [] for name, _, _ in probes}
    refused: dict[str, int] = {}  # probe -> run_ps command-line length, when over the limit
    with LabServer(topology, responder=LabResponder(cluster), auth=("ntlm",)) as server:
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
        for _ in range(args.rounds):
            # Interleaved, so that load on the machine hits both sides alike.
            for name, params, node in probes:
                script = build_script(name, params)
                t0 = time.perf_counter()
                result = ours_sessions[node].run_script(script, idempotent=True)
                ours[name].append((time.perf_counter() - t0) * 1000)
                if result.exit_code != 0:
                    print(f"qmaudit {name} failed: {result.stderr}", file=sys.stderr)
                    return 1
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
                    return 1
                plain[name].append(elapsed)
        driver.close()
        for session in ours_sessions.values():
            session.close()
    print(f"probe latency over WinRM, NTLM + message encryption, {args.rounds} rounds (ms, median)")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
