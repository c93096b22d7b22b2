"""Assertion helpers: a failed check is a violated claim, with its evidence in the message."""

from __future__ import annotations

from typing import Any, NoReturn

from harness.errors import ThinEvidenceError
from harness.figures import figures


def check(condition: bool, claim_text: str, **evidence: Any) -> None:
    """Assert `condition`; the message says what should hold and what was observed."""
    __tracebackhide__ = True
    if not condition:
        seen = figures(**evidence)
        raise AssertionError(f"{claim_text}" + (f" — observed: {seen}" if seen else ""))


def too_thin(what: str, **named: Any) -> NoReturn:
    """Stop the check as BROKEN: the evidence cannot show the claim held *or* was violated."""
    __tracebackhide__ = True
    seen = figures(**named)
    raise ThinEvidenceError(f"evidence too thin to judge: {what}" + (f" — {seen}" if seen else ""))
