"""The qmaudit pytest plugin: options, fixtures and hooks for the audit scenarios."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register qmaudit's command-line options."""
    group = parser.getgroup("qmaudit")
    group.addoption(
        "--qm-target",
        default="lab",
        help="target spec: lab, lab:<topology.yaml>, lab+inproc, or an inventory file",
    )
