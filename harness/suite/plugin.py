"""The qmaudit pytest plugin: a hook table that stays idle unless a target is given.

Registered for every pytest session of the environment (the pytest11 entry point), it only
adds its options. With `--qm-target` (or `qm_target` in the ini file), or when `qmaudit run`
passes a ChosenTarget, it registers the step modules, the fixtures (harness/suite/fixtures.py),
the hooks (harness/suite/hooks.py) and the record settling (harness/suite/settle.py); without
one it imports no step module, opens no target and loads no topology.
"""

from __future__ import annotations

import pytest

# The pytest-bdd step modules of the audit scenarios: registered by the plugin (not by a
# conftest) so the installed package runs its features from any folder.
STEP_MODULES = (
    "steps.common",
    "steps.moves",
    "steps.checks_move",
    "steps.checks_identity",
    "steps.checks_cluster",
    "steps.checks_clock",
    "steps.checks_nodes",
    "steps.passive",
)

# The plugin's own modules, registered once a target is given.
ACTIVE_MODULES = ("harness.suite.fixtures", "harness.suite.hooks", "harness.suite.settle")

TAG_MARKERS = {
    "core": "one of the four core claims (QM-02, QM-03, QM-13, QM-15)",
    "disruptive": "the scenario moves VMs (real downtime on a real cluster)",
    "destructive": "the scenario crashes a node (lab, or inventory opt-in only)",
    "lab-only": "needs an action only the embedded lab offers",
    "own-move": "judges what happens right after the move: never takes an earlier move",
    "claim": "claim(QM-NN): the documented behaviour the scenario checks",
    "passive": "read-only: runs only in a passive audit (qmaudit run --passive)",
    "static": "judges the cluster as found (static invariants), read only",
    "history": "judges the moves the cluster already made, from its event logs",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register qmaudit's command-line and ini options (nothing else is loaded here)."""
    from harness.targets.registry import spec_help

    group = parser.getgroup("qmaudit")
    help_text = f"target spec ({spec_help()}); without one the qmaudit plugin stays idle"
    group.addoption("--qm-target", default=None, help=help_text)
    group.addoption("--qm-lab-speed", type=float, default=20.0, help="lab seconds per second")
    group.addoption("--qm-run-dir", default=None, help="run folder (default reports/<run-id>)")
    group.addoption("--qm-run-id", default=None, help="run id (default: new)")
    group.addoption(
        "--qm-no-report",
        action="store_true",
        default=False,
        help="finish the run without the Allure HTML report (like qmaudit run --no-report)",
    )
    group.addoption(
        "--qm-history",
        default=None,
        help="history folder (default: history next to the run folder, as qmaudit run)",
    )
    group.addoption(
        "--qm-no-history", action="store_true", default=False, help="keep no history for this run"
    )
    group.addoption("--qm-history-keep", type=int, default=30, help="runs kept in the history")
    from harness.run.passive import add_options

    add_options(group)
    parser.addini("qm_target", "qmaudit target spec when --qm-target is not given", default="")


def target_text(config: pytest.Config) -> str | None:
    """The target spec given to this session (option, then ini), or None: the plugin is idle."""
    given = config.getoption("--qm-target", None) or config.getini("qm_target")
    return str(given) if given else None


def is_active(config: pytest.Config) -> bool:
    """Whether the qmaudit plugin runs an audit in this session."""
    from harness.suite.context import ChosenTarget, plugin_of

    return target_text(config) is not None or plugin_of(config, ChosenTarget) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """With a target: check it, register steps, fixtures, hooks and markers; else nothing."""
    if not is_active(config):
        return
    from harness.domain.claims import CLAIMS
    from harness.errors import InputError, plain_message
    from harness.suite.context import SPEC_KEY, ChosenTarget, plugin_of, run_dir_of
    from harness.targets.registry import parse_spec

    chosen = plugin_of(config, ChosenTarget)
    try:
        spec = chosen.spec if chosen is not None else parse_spec(target_text(config) or "")
    except InputError as exc:
        # The registry names the option --target (the CLI's); under pytest it is --qm-target.
        where = f"{exc.location}: {exc.reason}" if exc.source == "--target" else exc.message
        raise pytest.UsageError(f"--qm-target {plain_message(where)}") from None
    config.stash[SPEC_KEY] = spec
    for module in (*ACTIVE_MODULES, *STEP_MODULES):
        if not config.pluginmanager.has_plugin(module):
            config.pluginmanager.import_plugin(module)
    for name, doc in TAG_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    for claim in CLAIMS:
        config.addinivalue_line("markers", f"{claim}: scenarios of claim {claim}")
    # The run's files are the same however it was started: Allure results and JUnit XML in
    # the run folder unless the caller chose other places (before allure and junitxml look).
    _run_id, run_dir = run_dir_of(config)
    if not getattr(config.option, "allure_report_dir", None):
        config.option.allure_report_dir = str(run_dir / "allure-results")
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(run_dir / "junit.xml")
