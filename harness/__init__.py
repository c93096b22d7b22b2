"""qmaudit: audit harness for Hyper-V quick migration on failover clusters."""

from __future__ import annotations

__version__ = "0.1.0"
