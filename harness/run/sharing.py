"""Move sharing: whether a scenario may take the run's last move as its own (docs/selection.md)."""

from __future__ import annotations

from harness.audit.catalog import VmFacts
from harness.audit.ledger import MoveLedger, ObservedMove
from harness.run.needs import SINGLE
from harness.run.schedule import MoveNeed

# The command each When step's move uses, and how it names the target node.
TARGETING_OF_NEED = {"other": "other", "node": "node", "bpn": "bpn", "method": "other"}


def reusable(
    moves: MoveLedger, need: MoveNeed | None, vm: VmFacts | None, node: str | None
) -> ObservedMove | None:
    """The run's last move, if a scenario of `need` may take it as its own move of `vm`.

    Never for a scenario that needs its own move (`@own-move`) or moves otherwise than one VM;
    a move to a named node serves only a scenario that names the same node (`node`)."""
    if vm is None or need is None or need.own_move or need.phase != SINGLE:
        return None
    method = need.method
    targeting = TARGETING_OF_NEED[need.targeting]
    if targeting == "node" and node is None:
        targeting = "other"
    return moves.reusable(vm.name, method, targeting, node=node, state=vm.state)
