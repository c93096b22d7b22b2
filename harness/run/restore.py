"""Leave the cluster as found: put every touched VM back on its owner, in its state.

Nodes a scenario drained or crashed are put back when the scenario ends. VMs are put back when
the scenario ends too, unless the restorer is lazy (one run on a cluster it has to itself): then
a VM stays where its last move left it, its next move takes it home (and serves as a scenario's
observed move), and what is still away is returned when the run ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from harness.audit.assertions import InvariantBroken
from harness.audit.catalog import VmFacts
from harness.audit.cluster import Cluster
from harness.audit.invariants import MoveCause
from harness.audit.moves import judged_move, settled
from harness.errors import HarnessError


@dataclass
class Restorer:
    """Remembers what a scenario touched and undoes it in reverse order."""

    cluster: Cluster
    timeout_s: float = 900.0
    lazy: bool = False
    vms: dict[str, tuple[VmFacts, str, str]] = field(default_factory=dict)
    drained: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    scenario: str = ""
    # Restore moves that broke a quick-migration invariant (the move itself succeeded).
    violations: list[InvariantBroken] = field(default_factory=list)

    def remember(self, vm: VmFacts) -> None:
        """Record the VM's current owner and state (once: the first record is the original)."""
        if vm.name in self.vms:
            return
        _, statuses = self.cluster.move_status([vm.name])
        status = statuses[0]
        state = status.get("vm_state") or vm.state
        self.vms[vm.name] = (vm, status["owner_node"], state)
        # Journalled before the action that needs it, so `qmaudit recover` knows the original.
        self.cluster.guard.remember_vm(vm.name, status["owner_node"], state)

    def home(self, name: str) -> str | None:
        """The owner the VM had when the run first touched it (None: not touched yet)."""
        found = self.vms.get(name)
        return found[1] if found is not None else None

    def end_scenario(self) -> list[str]:
        """What a scenario's end puts back: its nodes, and its VMs unless lazy."""
        if not self.lazy:
            return self.restore()
        problems = self._restore_nodes()
        # The next scenario must find the cluster idle, whatever this one left moving.
        self._settle_all(problems)
        self._settle_checks(final=False)
        return problems

    def remember_drain(self, node: str) -> None:
        self.drained.append(node)
        self.cluster.guard.remember_node(node, "resume")

    def remember_crash(self, node: str) -> None:
        self.crashed.append(node)
        self.cluster.guard.remember_node(node, "power_on")

    def restore(self) -> list[str]:
        """Undo everything; returns the problems that could not be fixed (empty = as found)."""
        problems = self._restore_nodes()
        guard = self.cluster.guard
        self._settle_all(problems)
        for name, (_vm, owner, state) in self.vms.items():
            self._step(problems, f"return {name} to {owner}", partial(self._back, name, owner))
            _, statuses = self.cluster.move_status([name])
            now_owner, now_state = statuses[0]["owner_node"], statuses[0].get("vm_state")
            if now_owner != owner or (now_state is not None and now_state != state):
                problem = (
                    f"VM {name!r} is on {now_owner} in state {now_state}, "
                    f"expected {owner} in state {state}"
                )
                problems.append(problem)
                guard.restored(vm=name, ok=False, detail=problem)
            else:
                self.log.append(f"{name}: on {owner}, {state}")
                guard.restored(vm=name, ok=True, detail=f"on {owner}, {state}")
        self.vms.clear()
        self._settle_checks(final=True)
        return problems

    def _settle_checks(self, final: bool) -> None:
        """Judge the moves still inside their settle window (harness/audit/settle.py); at the
        end of a restore, every VM touched once more. What they find is a violation."""
        window = self.cluster.settle
        if window is None:
            return
        try:
            window.final() if final else window.check_due()
        except HarnessError as exc:
            self.log.append(f"settle checks not judged: {exc.message}")
        self.violations.extend(window.take())

    def _restore_nodes(self) -> list[str]:
        """Power on crashed nodes and resume drained ones; returns the problems."""
        problems: list[str] = []
        guard = self.cluster.guard
        # Only nodes still Down (crashed) or Paused (drained) need an action: the step may
        # have stopped before its action (refused, interrupted).
        states = self._node_states(problems) if self.crashed or self.drained else {}
        for node in self.crashed:
            if states.get(node, "Down") != "Down":
                self.cluster.mark_down(node, False)
                guard.restored(node=node, ok=True, detail=f"{states[node]}: nothing to do")
                continue
            ok = self._step(
                problems,
                f"power on {node}",
                partial(self.cluster.lab_power_on, node, restoring=True),
            )
            guard.restored(node=node, ok=ok, detail="powered on" if ok else problems[-1])
        for node in self.drained:
            if states.get(node, "Paused") != "Paused":
                guard.restored(node=node, ok=True, detail=f"{states[node]}: nothing to do")
                continue
            ok = self._step(
                problems, f"resume {node}", partial(self.cluster.resume, node, restoring=True)
            )
            guard.restored(node=node, ok=ok, detail="resumed" if ok else problems[-1])
        self.drained.clear()
        self.crashed.clear()
        return problems

    def _step(self, problems: list[str], what: str, action: Callable[[], object]) -> bool:
        try:
            action()
            self.log.append(what)
            return True
        except HarnessError as exc:
            problems.append(f"{what}: {exc.message}")
            return False

    def _node_states(self, problems: list[str]) -> dict[str, str]:
        try:
            return {n.name: n.state for n in self.cluster.inventory().nodes}
        except HarnessError as exc:
            problems.append(f"read the node states: {exc.message}")
            return {}

    def _settle_all(self, problems: list[str]) -> None:
        """Wait until no remembered VM is still moving (a problem if it never settles)."""
        if self.vms:
            names = list(self.vms)
            self._step(problems, "wait for moves to settle", lambda: self._settle(names))

    def _settle(self, names: list[str]) -> None:
        requested, _ = self.cluster.move_status(names)
        self.cluster.watch(names, {}, requested, {}, settled, self.timeout_s)

    def _back(self, name: str, owner: str) -> None:
        _, statuses = self.cluster.move_status([name])
        if statuses[0]["owner_node"] == owner:
            return
        vm = self.vms[name][0]
        cause = MoveCause("restore", self.scenario, f"{name} back to {owner}")
        try:
            # One unit (guard, lock, journal) inside judged_move; every invariant is judged.
            judged_move(self.cluster, [vm], owner, cause, self.timeout_s, restoring=True)
        except InvariantBroken as violation:
            # The VM is back; what the move broke is a verdict, not a leftover.
            self.violations.append(violation)


def report_restore_problems(problems: list[str]) -> None:
    """Say loudly that the cluster was not left as found."""
    bar = "!" * 78
    print(f"\n{bar}\nqmaudit: THE CLUSTER WAS NOT LEFT AS FOUND:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print(f"{bar}\n", file=sys.stderr)
