"""Where a moved VM arrived and in what state: accepted, on the target, its state kept."""

from __future__ import annotations

from harness.audit.assertions import check
from harness.audit.moves import MoveOutcome


def judge_running_on_target(outcomes: list[MoveOutcome]) -> None:
    """Each move was accepted and left its VM running on the target node (any other node when
    none was named)."""
    __tracebackhide__ = True
    for o in outcomes:
        assert o.after is not None
        expected = o.requested_node
        state = o.after.details.state if o.after.details else None
        check(
            o.refused is None,
            "the move must be accepted",
            refusal=o.refused.target_message if o.refused else None,
        )
        check(
            (expected is None or o.final_owner == expected) and o.final_owner != o.source,
            f"VM {o.vm.name!r} must be owned by the target node after the move",
            source=o.source,
            target=expected,
            owner=o.final_owner,
        )
        check(state == "Running", f"VM {o.vm.name!r} must be running after the move", state=state)


def judge_kept_state(o: MoveOutcome, state: str) -> None:
    """The VM is in `state` after the move, the state it had before."""
    __tracebackhide__ = True
    assert o.after is not None
    now = o.after.details.state if o.after.details else None
    check(
        now == state,
        "the VM must keep the state it had before the move",
        expected=state,
        observed=now,
    )


def judge_still_in_state(o: MoveOutcome, state: str) -> None:
    """A VM that was `state` is still `state` after the move."""
    __tracebackhide__ = True
    assert o.after is not None
    now = o.after.details.state if o.after.details else None
    check(
        now == state,
        f"a VM that was {state} must still be {state} after the move",
        owner=o.final_owner,
        observed=now,
    )


def judge_owned_by_target(o: MoveOutcome) -> None:
    """The move was accepted and the VM is owned by the node it was sent to."""
    __tracebackhide__ = True
    check(
        o.refused is None and o.final_owner == o.requested_node,
        "a quick migration works whatever the VM's state",
        refusal=o.refused.target_message if o.refused else None,
        owner=o.final_owner,
        target=o.requested_node,
    )
