"""Root conftest: registers the step modules of the audit scenarios (pytest-bdd)."""

pytest_plugins = [
    "steps.common",
    "steps.moves",
    "steps.checks_move",
    "steps.checks_identity",
    "steps.checks_cluster",
    "steps.checks_clock",
    "steps.checks_nodes",
    # Fixtures shared by the harness's own tests (lab WinRM listeners, credentials).
    "tests.wsman_fixtures",
]
