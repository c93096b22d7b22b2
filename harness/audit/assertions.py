"""Assertion helpers: a failed check is a violated claim, with its evidence in the message."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


class InvariantBroken(AssertionError):
    """A move broke what every quick migration must keep; `claims` are the claims it fails.

    Raised for moves a scenario does not judge itself (setup, restore, a leg, a drain, the
    scenario's own move read again): the violation belongs to these claims, whichever scenario's
    move it was. The message names them too, for people; the verdict reads `claims`.
    """

    def __init__(self, message: str, claims: Iterable[str]) -> None:
        super().__init__(message)
        self.claims: tuple[str, ...] = tuple(sorted(set(claims)))

    @classmethod
    def combine(cls, found: Sequence[InvariantBroken]) -> InvariantBroken:
        """One exception for several broken moves: every message, every claim."""
        return cls(" | ".join(str(e) for e in found), (c for e in found for c in e.claims))


def broken(claims: Iterable[str], claim_text: str, **evidence: Any) -> NoReturn:
    """Raise InvariantBroken for `claims`; the message says what broke and what was observed."""
    __tracebackhide__ = True
    named = tuple(sorted(set(claims)))
    seen = figures(**evidence)
    tag = f" [move invariants broken: {', '.join(named)}]"
    raise InvariantBroken(f"{claim_text}{tag}" + (f" — observed: {seen}" if seen else ""), named)
