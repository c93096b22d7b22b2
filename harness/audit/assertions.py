"""Assertion helpers: a failed check is a violated claim, with its evidence in the message."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from harness.errors import ThinEvidenceError


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


def too_thin(what: str, **figures: Any) -> NoReturn:
    """Stop the check as BROKEN: the evidence cannot show the claim held *or* was violated."""
    __tracebackhide__ = True
    seen = "; ".join(f"{key}={_show(value)}" for key, value in figures.items())
    raise ThinEvidenceError(f"evidence too thin to judge: {what}" + (f" — {seen}" if seen else ""))
