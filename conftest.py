"""Root conftest of the checkout (the audit's step modules are registered by the plugin)."""

pytest_plugins = [
    # Fixtures shared by the harness's own tests (lab WinRM listeners, credentials).
    "tests.wsman_fixtures",
]
