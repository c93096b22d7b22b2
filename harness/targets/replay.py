"""`replay:DIR` targets: a capture folder opened as a Target whose driver answers from the files."""

from __future__ import annotations

from pathlib import Path

from harness.capture.store import Capture, load_capture
from harness.drivers.replay import ReplayDriver
from harness.errors import InputError
from harness.targets.inventory import Inventory, parse_inventory
from harness.targets.registry import Target, TargetSpec

PREFIX = "replay:"


def is_replay_spec(spec: str) -> bool:
    """True for `replay:<capture folder>`."""
    return spec.strip().startswith(PREFIX)


def replay_folder(spec: str) -> Path:
    """The capture folder named by a replay spec (InputError if it names none)."""
    folder = spec.strip()[len(PREFIX) :]
    if not folder:
        raise InputError("--target", repr(spec), "replay needs a capture folder: replay:<DIR>")
    return Path(folder)


def load_replay(spec: str) -> tuple[Capture, Inventory, ReplayDriver]:
    """The capture, its inventory (credentials stay unresolved: nothing is contacted), a driver."""
    capture = load_capture(replay_folder(spec))
    source = str(capture.folder / str(capture.index["inventory"]))
    inventory = parse_inventory(capture.inventory, source)
    driver = ReplayDriver(capture.calls, [n.name for n in inventory.nodes], spec.strip())
    return capture, inventory, driver


def check_replay_spec(spec: str) -> None:
    """Validate a replay spec's capture folder without keeping anything open."""
    load_replay(spec)


def open_replay(spec: str) -> Target:
    """A cluster Target answered from a capture: read probes only, actions refused."""
    _capture, inventory, driver = load_replay(spec)
    return Target(
        spec=spec.strip(),
        kind="cluster",
        driver=driver,
        thresholds=inventory.thresholds,
        poll_interval_s=inventory.poll_interval_s,
        allow_destructive=False,
        non_member_host=inventory.non_member_host,
        throughputs=inventory.throughputs,
        transport=f"replay of the capture {replay_folder(spec)}",
        allow_vm=inventory.policy.allows,
        lab_actions=False,
        vm_policy=inventory.policy,
    )


def check_replay_target(spec: TargetSpec) -> None:
    """The registry's check for `replay:<dir>` (InputError on a bad capture folder)."""
    check_replay_spec(spec.text)


def open_replay_target(spec: TargetSpec, lab_speed: float) -> Target:
    """The registry's opener for `replay:<dir>`; the lab speed does not apply to a capture."""
    del lab_speed
    return open_replay(spec.text)
