"""Assertion helpers: a failed check is a violated claim, with its evidence in the message."""

from __future__ import annotations

import json
from typing import Any


def _show(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def check(condition: bool, claim_text: str, **evidence: Any) -> None:
    """Assert `condition`; the message says what should hold and what was observed."""
    __tracebackhide__ = True
    if not condition:
        seen = "; ".join(f"{key}={_show(value)}" for key, value in evidence.items())
        raise AssertionError(f"{claim_text}" + (f" — observed: {seen}" if seen else ""))
