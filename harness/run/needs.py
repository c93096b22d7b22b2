"""The move each When step makes and the VM each Given step picks: the registry the schedule reads.

A step function declares what it does with `@moves(...)` (When) or `@picks(...)` (Given), under
its pytest-bdd decorator. The schedule finds a scenario's step functions the way pytest-bdd does
(each registered step's parser against the step's text) and reads their declarations, so a
reworded step keeps its move, and a scenario whose When steps declare no move is refused at
collection instead of silently changing which moves are shared on a production cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

# Phases in run order.
CRASH, DRAIN, SEVERAL, SINGLE, REFUSED = range(5)
PHASE_NAMES = ("crash", "drain", "several VMs", "one VM", "refused")
# When a scenario has several When steps that move, the one of the phase first here decides.
_PRECEDENCE = (CRASH, DRAIN, SEVERAL, REFUSED, SINGLE)

Targeting = Literal["other", "node", "bpn", "method"]


@dataclass(frozen=True)
class MoveKind:
    """What a When step does: its phase, how it names the target and the move command."""

    phase: int
    targeting: Targeting = "other"  # another node, a named node, the Best Possible Node, a cmdlet
    method: str = "vm_role"  # Move-ClusterVirtualMachineRole ("vm_role") or -Group

    def __post_init__(self) -> None:
        if self.phase not in _PRECEDENCE:
            raise ValueError(f"unknown move phase {self.phase!r}")


@dataclass(frozen=True)
class VmKind:
    """Which VM a Given step picks: its state, storage kind, configuration version, hardware."""

    state: str = ""
    storage: str = ""
    version: str = ""
    special: str = ""  # hardware or placement only some VMs have (pass-through, preferences)

    def merged(self, other: VmKind) -> VmKind:
        """This kind, with what `other` says where this one says nothing."""
        return replace(
            self,
            **{k: getattr(other, k) for k in ("state", "storage", "version", "special")
               if not getattr(self, k)},
        )  # fmt: skip


# A declaration: the kind itself, or a function of the step's parsed arguments.
MoveDecl = MoveKind | Callable[[dict[str, Any]], MoveKind]
VmDecl = VmKind | Callable[[dict[str, Any]], VmKind]
F = TypeVar("F", bound=Callable[..., Any])

_MOVES: dict[Callable[..., Any], MoveDecl] = {}
_PICKS: dict[Callable[..., Any], VmDecl] = {}


def moves(kind: MoveDecl) -> Callable[[F], F]:
    """Declare the move a When step function makes (put it under `@when(...)`)."""

    def mark(func: F) -> F:
        _MOVES[func] = kind
        return func

    return mark


def picks(kind: VmDecl) -> Callable[[F], F]:
    """Declare the VM a Given step function picks (put it under `@given(...)`)."""

    def mark(func: F) -> F:
        _PICKS[func] = kind
        return func

    return mark


def _steps(step_type: str, text: str) -> Iterable[tuple[Callable[..., Any], dict[str, Any]]]:
    """The registered step functions of this type whose parser matches `text`, with arguments."""
    from pytest_bdd.steps import step_function_context_registry

    for context in list(step_function_context_registry.values()):
        if context.type not in (step_type, None) or not context.parser.is_matching(text):
            continue
        yield context.step_func, context.parser.parse_arguments(text) or {}


def move_of(whens: Iterable[str]) -> MoveKind | None:
    """The move a scenario's When steps declare (None: none of them declares one)."""
    found: list[MoveKind] = []
    for text in whens:
        for func, args in _steps("when", text):
            declared = _MOVES.get(func)
            if declared is not None:
                found.append(declared if isinstance(declared, MoveKind) else declared(args))
    if not found:
        return None
    return min(found, key=lambda k: _PRECEDENCE.index(k.phase))


def vm_of(givens: Iterable[str]) -> VmKind:
    """The VM a scenario's Given steps pick (what the first says wins where several say)."""
    kind = VmKind()
    for text in givens:
        for func, args in _steps("given", text):
            picked = _PICKS.get(func)
            if picked is not None:
                kind = kind.merged(picked if isinstance(picked, VmKind) else picked(args))
    return kind
