"""The moves a run has observed, and which of them a later scenario may take as its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.audit.moves import MoveOutcome

# How a scenario names the node of its move: any node but the owner ("other"), the cluster's
# choice ("bpn"), or one named node ("node").
TARGETING = ("other", "bpn", "node")


@dataclass
class ObservedMove:
    """One quick-migration request the run made, with everything its checks need."""

    id: str
    scenario: str
    method: str
    targeting: str
    requested_node: str | None
    outcomes: list[MoveOutcome]
    # The guard's action count right after this move: any later action makes it stale.
    after_action: int
    restoring: bool = False
    shared_by: list[str] = field(default_factory=list)

    @property
    def vm_names(self) -> list[str]:
        return [o.vm.name for o in self.outcomes]

    def as_evidence(self, shared: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "shared": shared,
            "made_by": self.scenario,
            "method": self.method,
            "requested_node": self.requested_node,
            "vms": self.vm_names,
            "returned_home": self.restoring,
        }


class MoveLedger:
    """Every move the run made, in order; `reusable` answers "may this scenario take it?".

    A move serves a later scenario only while it is the last action on the cluster (so what the
    checks read live is still what the move left), for the same VM, the same command, the same
    kind of target and the VM state the scenario asked for. Sharing never crosses targets: a
    ledger belongs to one run on one target.
    """

    def __init__(self, actions: Callable[[], int], enabled: bool = True) -> None:
        self._actions = actions
        self.enabled = enabled
        self.moves: list[ObservedMove] = []

    def add(
        self,
        scenario: str,
        method: str,
        targeting: str,
        requested_node: str | None,
        outcomes: list[MoveOutcome],
        restoring: bool,
    ) -> ObservedMove:
        move = ObservedMove(
            id=f"M{len(self.moves) + 1:02d}",
            scenario=scenario,
            method=method,
            targeting=targeting,
            requested_node=requested_node,
            outcomes=outcomes,
            after_action=self._actions(),
            restoring=restoring,
        )
        self.moves.append(move)
        return move

    def current(self) -> ObservedMove | None:
        """The run's last move if nothing has acted on the cluster since."""
        if not self.enabled or not self.moves:
            return None
        last = self.moves[-1]
        return last if last.after_action == self._actions() else None

    def reusable(
        self,
        vm: str,
        method: str,
        targeting: str,
        node: str | None = None,
        state: str | None = None,
    ) -> ObservedMove | None:
        """The last move, if it can stand as a move of `vm` of this kind, else None."""
        last = self.current()
        if last is None or last.vm_names != [vm] or last.method != method:
            return None
        outcome = last.outcomes[0]
        if outcome.refused is not None or outcome.after is None or outcome.trace is None:
            return None
        if (last.targeting == "bpn" or targeting == "bpn") and last.targeting != targeting:
            return None
        if targeting == "node" and (
            node is None or (last.requested_node or "").casefold() != node.casefold()
        ):
            return None
        before = outcome.before.details.state if outcome.before.details else None
        if state is not None and before != state:
            return None
        return last
