"""The `qmaudit` command: argument parsing and dispatch, errors turned into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError, InputError, plain_message
from harness.exits import Exit, last_line
from harness.terminal import guard_streams


def _cmd_lab_validate(args: argparse.Namespace) -> int:
    from harness.lab.topology import load_topology

    topology = load_topology(args.file)
    print(
        f"{args.file}: valid lab topology {topology.cluster.name!r} "
        f"({len(topology.nodes)} nodes, {len(topology.vms)} VMs)"
    )
    return 0


def _cmd_lab_show(args: argparse.Namespace) -> int:
    from harness.lab.show import render_topology
    from harness.lab.topology import load_default_topology, load_topology

    topology = load_topology(args.file) if args.file else load_default_topology()
    print(render_topology(topology))
    return 0


def _cmd_lab_serve(args: argparse.Namespace) -> int:
    from harness.lab.serve import serve_forever

    return serve_forever(
        args.file,
        speed=args.speed,
        state_dir=args.state_dir,
        permissive=args.permissive,
        https=args.https,
        kerberos=args.kerberos,
        no_ntlm=args.no_ntlm,
        credssp=args.credssp,
        windows_cost=args.windows_cost,
    )


def _cmd_check_inventory(args: argparse.Namespace) -> int:
    from harness.targets.preflight import check_inventory

    if args.file and args.target and args.file != args.target:
        raise InputError("check-inventory", args.file, "give the inventory once, with --target")
    if args.file and not args.target:
        print(
            "qmaudit check-inventory: note: the positional FILE is deprecated; "
            f"use --target {args.file}",
            file=sys.stderr,
        )
    target = args.target or args.file
    if not target:
        raise InputError("check-inventory", "--target", "an inventory file is required")
    return check_inventory(target, full=args.all)


def _cmd_capture(args: argparse.Namespace) -> int:
    from harness.capture.command import run_capture

    return run_capture(
        args.target,
        args.out,
        pseudonymise=args.pseudonymise,
        probes=args.probe or (),
        since_hours=args.since_hours,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.evidence.compliance import Compliance
    from harness.evidence.records import new_run_id
    from harness.run.budget import Budget
    from harness.run.lease import run_lease
    from harness.suite.runner import run_audit
    from harness.suite.selection import check_run_selection
    from harness.targets.registry import parse_spec

    targets = args.target or ["lab"]
    specs = [parse_spec(t) for t in targets]  # every spec checked before any audit starts
    _check_since(args)
    for spec in specs:
        check_run_selection(spec, args.m)
    for spec in specs:
        if spec.is_inventory:
            # TLS trust and Kerberos tickets of every node: one line and exit 2, nothing run.
            from harness.targets.inventory import check_connections

            check_connections(str(spec.path))
    if args.history_keep < 1:
        raise InputError("--history-keep", str(args.history_keep), "must be at least 1")
    budget = Budget(args.max_moves, args.max_downtime_per_vm)
    reports = Path(args.reports)
    compliance = Compliance.prepare(args.sign, args.waivers, args.controls)
    if len(specs) > 1:
        from harness.suite.multirun import run_many

        if args.run_id:
            raise InputError("--run-id", args.run_id, "cannot be given with several --target")
        return run_many([s.text for s in specs], _run_passthrough(args), reports_root=reports)
    if args.run_id:
        from harness.evidence.records import check_run_id

        check_run_id(args.run_id)
        if (reports / args.run_id).exists():
            raise InputError("--run-id", args.run_id, f"{reports} already holds a run of that id")
    run_id = args.run_id or new_run_id()
    history = None if args.no_history else Path(args.history or reports / "history")
    # One run per cluster: the lease is taken before anything is written (exit 2 if busy).
    with run_lease(specs[0], run_id, args.lease_timeout):
        return run_audit(
            specs[0],
            keyword=args.k,
            markers=args.m,
            report=not args.no_report,
            lab_speed=args.lab_speed,
            reports_root=reports,
            run_id=run_id,
            compliance=compliance,
            jobs=args.n,
            history=history,
            history_keep=args.history_keep,
            budget=budget,
            passive=args.passive,
            since=args.since,
        )


def _cmd_verify(args: argparse.Namespace) -> int:
    from harness.evidence.verify import verify_command

    return verify_command(args.run_dir, args.allowed_signers, args.ca)


def _cmd_sign(args: argparse.Namespace) -> int:
    from harness.evidence.compliance import sign_command

    return sign_command(args.run_dir, args.key)


def _run_passthrough(args: argparse.Namespace) -> list[str]:
    """The run options every per-target subprocess of a several-target run gets."""
    out = ["--lab-speed", str(args.lab_speed), "-n", str(args.n), "--reports", str(args.reports)]
    out += ["--lease-timeout", str(args.lease_timeout)]
    for option in ("sign", "waivers", "controls", "max_moves", "max_downtime_per_vm"):
        value = getattr(args, option)
        given = value is not None and value != ""  # --max-moves 0 is a budget
        out += [f"--{option.replace('_', '-')}", str(value)] if given else []
    out += ["-k", args.k] if args.k else []
    out += ["-m", args.m] if args.m else []
    out += ["--passive", "--since", args.since] if args.passive else []
    out += ["--no-report"] if args.no_report else []
    history = args.history or str(Path(args.reports) / "history")
    out += ["--no-history"] if args.no_history else ["--history", history]
    return [*out, "--history-keep", str(args.history_keep)]


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.evidence.compare import run_compare

    return run_compare(
        args.runs,
        last=args.last,
        target=args.target,
        history_dir=Path(args.history),
        thresholds=args.threshold or (),
        force=args.force,
        out_dir=Path(args.out) if args.out else None,
    )


def _cmd_trend(args: argparse.Namespace) -> int:
    from harness.evidence.trend import run_trend

    out = Path(args.out) if args.out else None
    return run_trend(Path(args.history), args.target, args.runs, out)


def _cmd_inventory_from_ansible(args: argparse.Namespace) -> int:
    from harness.targets.ansible import convert_inventory

    return convert_inventory(
        args.source,
        args.group,
        Path(args.output),
        force=args.force,
        allow_dynamic=args.allow_dynamic,
    )


def _cmd_plan(args: argparse.Namespace) -> int:
    from harness.run.budget import Budget
    from harness.suite.plan import run_plan
    from harness.targets.registry import parse_spec

    _check_since(args)
    return run_plan(
        parse_spec(args.target),
        keyword=args.k,
        markers=args.m,
        lab_speed=args.lab_speed,
        reports_root=Path(args.reports),
        budget=Budget(args.max_moves, args.max_downtime_per_vm),
        passive=args.passive,
        since=args.since,
    )


def _check_since(args: argparse.Namespace) -> None:
    """--since is checked before anything starts (exit 2 on a bad value)."""
    from datetime import UTC, datetime

    from harness.run.passive import parse_since

    parse_since(args.since, datetime.now(UTC))


def _passive_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passive",
        action="store_true",
        help="read only: no VM is moved (the guard refuses every disruptive action); judge the "
        "cluster as found and the moves it already made (docs/passive.md)",
    )
    parser.add_argument(
        "--since",
        default="30d",
        metavar="WHEN",
        help="with --passive: history window, a span (30d, 12h, 90m) or a UTC time (default 30d)",
    )


def _cmd_recover(args: argparse.Namespace) -> int:
    from harness.run.recover import find_run, recover

    run_dir = find_run(args.run, Path(args.reports))
    if run_dir is None:
        print(f"qmaudit recover: no incomplete journal under {args.reports}/: nothing to recover")
        return 0
    return recover(run_dir, lease_timeout_s=args.lease_timeout)


def _cmd_selftest(args: argparse.Namespace) -> int:
    from harness.selftest.matrix import run_selftest

    return run_selftest(
        pattern=args.profiles,
        combine=args.profile or (),
        random_count=args.random,
        jobs=args.jobs,
        lab=args.lab,
        seed=args.seed,
    )


def _target_help() -> str:
    from harness.targets.registry import spec_help

    return "what to audit (default: lab). " + spec_help()


def _markers_help() -> str:
    """-m's help: the expression grammar and every tag the shipped scenarios carry."""
    import importlib.util

    from harness.suite.selection import scenario_markers

    tags: set[str] = set()
    spec = importlib.util.find_spec("features")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        tags |= {t for found in scenario_markers(Path(folder)) for t in found}
    claims = sorted(t for t in tags if t.startswith("QM-"))
    words = sorted(t for t in tags if not t.startswith(("QM-", "claim:")))
    span = f"{claims[0]}..{claims[-1]} (one claim)" if claims else ""
    return (
        "select scenarios by tag: a pytest -m expression such as 'core and not disruptive' or "
        f"'QM-02 or QM-13'. Tags: {', '.join([*words, span])}. Default: every scenario"
    )


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-k", default=None, metavar="EXPR", help="select scenarios by keyword of their name"
    )
    parser.add_argument("-m", default=None, metavar="MARKERS", help=_markers_help())


def _budget_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-moves",
        type=int,
        default=None,
        metavar="N",
        help="refuse (exit 2, nothing moved) if the plan needs more than N quick migrations "
        "of a VM (restores too). Default: no limit",
    )
    parser.add_argument(
        "--max-downtime-per-vm",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="refuse (exit 2, nothing moved) if the plan's expected downtime of a VM exceeds "
        "this. Default: no limit",
    )


def _lab_speed_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lab-speed",
        type=float,
        default=20.0,
        metavar="X",
        help="lab seconds per real second (lab targets only; default 20)",
    )


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default where the help text does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        quiet = action.default in (None, False, argparse.SUPPRESS) or "default" in text.lower()
        if quiet or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Every qmaudit parser and sub-parser: defaults shown in --help."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _reports_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reports",
        default="reports",
        metavar="DIR",
        help="folder of the runs (default: ./reports of the current folder)",
    )


def _seconds(text: str) -> float:
    import math

    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError("seconds from 0 to 86400")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the qmaudit command."""
    parser = _Parser(
        prog="qmaudit",
        description="Audit Hyper-V quick migration on a failover cluster (or the embedded lab).",
    )
    parser.add_argument("--version", action="version", version=f"qmaudit {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    run = sub.add_parser("run", help="audit a target: every claim, evidence and Allure report")
    run.add_argument(
        "--target",
        action="append",
        help=_target_help() + ". Repeat to audit several clusters in parallel (a run folder each)",
    )
    _selection_options(run)
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    _reports_option(run)
    _lab_speed_option(run)
    run.add_argument(
        "--lease-timeout",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run of the same cluster to finish (default: refuse)",
    )
    run.add_argument(
        "--sign", metavar="KEY", help="sign the manifest: OpenSSH key, or PEM key+certificate"
    )
    run.add_argument("--waivers", metavar="FILE", help="approved waivers (YAML)")
    run.add_argument("--controls", metavar="FILE", help="map claims to control ids (YAML)")
    run.add_argument(
        "-n", type=int, default=0, metavar="N", help="pytest-xdist workers (one run, one folder)"
    )
    run.add_argument(
        "--run-id", default=None, metavar="ID", help="run id (default: new, time-based)"
    )
    run.add_argument(
        "--history",
        default=None,
        metavar="DIR",
        help="history folder: run index, Allure history, trend (default <reports>/history)",
    )
    run.add_argument("--no-history", action="store_true", help="keep no history for this run")
    run.add_argument(
        "--history-keep", type=int, default=30, metavar="N", help="runs kept in the history"
    )
    _budget_options(run)
    _passive_options(run)
    run.set_defaults(func=_cmd_run)

    verify = sub.add_parser(
        "verify", help="check a run folder against its manifest and the manifest's signature"
    )
    verify.add_argument("run_dir", type=Path, help="the run folder (reports/<run-id>)")
    anchor = verify.add_mutually_exclusive_group()
    anchor.add_argument(
        "--allowed-signers", type=Path, metavar="FILE", help="OpenSSH allowed-signers file"
    )
    anchor.add_argument("--ca", type=Path, metavar="FILE", help="CA certificates (PEM), for CMS")
    verify.set_defaults(func=_cmd_verify)

    sign = sub.add_parser("sign", help="sign a finished run's manifest (files must match it)")
    sign.add_argument("run_dir", type=Path, help="the run folder (reports/<run-id>)")
    sign.add_argument(
        "--key", required=True, metavar="KEY", help="OpenSSH key, or PEM key+certificate"
    )
    sign.set_defaults(func=_cmd_sign)

    compare = sub.add_parser("compare", help="what changed between two runs (exit 1: regression)")
    compare.add_argument("runs", nargs="*", metavar="RUN", help="two run folders or run ids")
    compare.add_argument(
        "--last",
        action="store_true",
        help="the newest two runs of one target (same kind and cluster; docs/history.md)",
    )
    compare.add_argument(
        "--target",
        default=None,
        metavar="TARGET",
        help="with --last: a cluster name or target spec (default: the newest run's target)",
    )
    compare.add_argument(
        "--history",
        default="reports/history",
        metavar="DIR",
        help="history folder holding the run index that --last reads",
    )
    compare.add_argument(
        "--threshold",
        action="append",
        metavar="NAME=FRACTION",
        help="relative change allowed, e.g. downtime_per_gib=0.3 (repeatable)",
    )
    compare.add_argument("--force", action="store_true", help="compare runs of different targets")
    compare.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for compare.json and compare.md (default: print only)",
    )
    compare.set_defaults(func=_cmd_compare)

    trend = sub.add_parser("trend", help="plots over runs and flaky claims (from the history)")
    trend.add_argument(
        "--target",
        default=None,
        metavar="TARGET",
        help="a cluster name or target spec (default: the newest run's target; runs are "
        "grouped by kind and cluster, docs/history.md)",
    )
    trend.add_argument("--runs", type=int, default=30, metavar="N", help="the last N runs")
    trend.add_argument(
        "--history",
        default="reports/history",
        metavar="DIR",
        help="history folder written by `run` (its run index)",
    )
    trend.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default <history>/trend)"
    )
    trend.set_defaults(func=_cmd_trend)

    inventory = sub.add_parser("inventory", help="inventory files")
    inv_sub = inventory.add_subparsers(dest="inventory_command", required=True, metavar="CMD")
    ansible = inv_sub.add_parser(
        "from-ansible", help="write a qmaudit inventory from an Ansible inventory (no passwords)"
    )
    ansible.add_argument(
        "source", help="Ansible inventory (INI/YAML) or `ansible-inventory --list` JSON"
    )
    ansible.add_argument("--group", required=True, help="the Ansible group holding one cluster")
    ansible.add_argument("-o", "--output", required=True, help="qmaudit inventory to write")
    ansible.add_argument("--force", action="store_true", help="overwrite the output file")
    ansible.add_argument(
        "--allow-dynamic",
        action="store_true",
        help="let ansible-core read the source: RUNS inventory plugins and scripts (code); "
        "by default only static INI/YAML/JSON files are read and nothing runs",
    )
    ansible.set_defaults(func=_cmd_inventory_from_ansible)

    plan = sub.add_parser(
        "plan", help="list the disruptive actions the selected scenarios would take (no change)"
    )
    plan.add_argument("--target", default="lab", help=_target_help())
    _selection_options(plan)
    _lab_speed_option(plan)
    _budget_options(plan)
    _reports_option(plan)
    _passive_options(plan)
    plan.set_defaults(func=_cmd_plan)

    recover = sub.add_parser(
        "recover", help="return every VM of an interrupted run to its original owner and state"
    )
    recover.add_argument(
        "run", nargs="?", help="run id or folder (default: the newest incomplete run in reports/)"
    )
    _reports_option(recover)
    recover.add_argument(
        "--lease-timeout",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a live run of the same cluster to finish (default: refuse)",
    )
    recover.set_defaults(func=_cmd_recover)

    check = sub.add_parser(
        "check-inventory", help="validate an inventory file and preflight its nodes (read-only)"
    )
    check.add_argument(
        "--target", default=None, help="inventory YAML file, or replay:<capture folder>"
    )
    check.add_argument(
        "file", nargs="?", default=None, help="deprecated: the same as --target FILE"
    )
    check.add_argument(
        "--all",
        action="store_true",
        help="list every Windows fact the checks rely on that is not verified on Windows yet",
    )
    check.set_defaults(func=_cmd_check_inventory)

    capture = sub.add_parser(
        "capture", help="record every read probe's raw answer on every node (read-only)"
    )
    capture.add_argument("--target", required=True, help="inventory YAML file")
    capture.add_argument(
        "--out", required=True, metavar="DIR", help="new (or empty) folder for the capture"
    )
    capture.add_argument(
        "--pseudonymise",
        action="store_true",
        help="replace host, node, cluster and VM names, IP and MAC addresses, domain names, "
        "SIDs and GUIDs by stable pseudonyms",
    )
    capture.add_argument(
        "--probe", action="append", metavar="NAME", help="only these read probes (repeatable)"
    )
    capture.add_argument(
        "--since-hours",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="event history to collect (default 24)",
    )
    capture.set_defaults(func=_cmd_capture)

    lab = sub.add_parser("lab", help="the embedded lab cluster")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    validate = lab_sub.add_parser("validate", help="validate a lab topology file")
    validate.add_argument("file", help="topology YAML file")
    validate.set_defaults(func=_cmd_lab_validate)
    show = lab_sub.add_parser("show", help="show a lab topology (default: the built-in lab)")
    show.add_argument("file", nargs="?", help="topology YAML file")
    show.set_defaults(func=_cmd_lab_show)
    serve = lab_sub.add_parser("serve", help="serve a lab topology over WinRM on 127.0.0.1")
    serve.add_argument("file", nargs="?", help="topology YAML file (default: the built-in lab)")
    serve.add_argument(
        "--speed", type=float, default=20.0, help="lab seconds per real second (default 20)"
    )
    serve.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="where to write the credentials and inventory files (default: a new temporary folder)",
    )
    serve.add_argument(
        "--permissive",
        action="store_true",
        help="also accept Basic authentication and unencrypted messages (a default Windows "
        "WinRM service refuses both: encrypted Negotiate/NTLM only)",
    )
    serve.add_argument(
        "--https",
        action="store_true",
        help="serve HTTPS with certificates from a CA made for this lab (its file is printed)",
    )
    serve.add_argument(
        "--kerberos",
        action="store_true",
        help="start an MIT KDC on loopback (needs krb5-kdc) and accept Kerberos "
        "(qmaudit[kerberos])",
    )
    serve.add_argument(
        "--no-ntlm",
        action="store_true",
        help="refuse NTLM like a hardened domain (Restrict NTLM: deny); implies --kerberos",
    )
    serve.add_argument(
        "--credssp", action="store_true", help="also accept CredSSP (implies --https)"
    )
    serve.add_argument(
        "--windows-cost",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="charge Windows' real-time probe costs (powershell.exe start, module imports, "
        "command; docs/windows-fidelity.md); default: the topology's windows_cost",
    )
    serve.set_defaults(func=_cmd_lab_serve)

    selftest = sub.add_parser(
        "selftest", help="run the suite on the clean lab and on each defect profile (matrix)"
    )
    selftest.add_argument(
        "--profiles", default="*.yaml", metavar="GLOB", help="shipped profiles to run (file glob)"
    )
    selftest.add_argument(
        "--profile",
        action="append",
        metavar="FILE",
        help="run these profile files combined in one lab (repeatable) instead of the shipped ones",
    )
    selftest.add_argument(
        "--random", type=int, default=0, metavar="N", help="also run N random clean topologies"
    )
    selftest.add_argument(
        "--seed", type=int, default=0, metavar="N", help="first seed of the random topologies"
    )
    selftest.add_argument(
        "--jobs", type=int, default=2, metavar="N", help="runs in parallel (default 2)"
    )
    selftest.add_argument(
        "--lab",
        choices=("sim", "scaled"),
        default="sim",
        help="simulated time (default) or real time at 20x (lab+inproc)",
    )
    selftest.set_defaults(func=_cmd_selftest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    guard_streams()  # no registered secret reaches the terminal, whatever prints it
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"qmaudit: error: {plain_message(exc.message)}", file=sys.stderr)
        if args.command != "run":
            return exc.exit_code
        # `run` ends with its exit code in words: bad input (2), or nothing judged (3).
        code = Exit.BAD_INPUT if exc.exit_code == Exit.BAD_INPUT else Exit.NOT_JUDGED
        print(last_line(code), file=sys.stderr)
        return int(code)
    except KeyboardInterrupt:
        print("qmaudit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
