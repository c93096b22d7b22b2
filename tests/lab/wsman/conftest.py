"""Fixtures for the lab WinRM endpoint tests: credentials, listeners with a fake answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.lab.wsman import WSManListener


@pytest.fixture
def listener(make_listener: Callable[..., WSManListener]) -> WSManListener:
    return make_listener()
