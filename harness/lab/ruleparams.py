"""Rule parameters: which rules_off entries take params, their types and ranges."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from harness.errors import InputError

# A drive path (C:\...) or a UNC path (\\server\share...): where the lab may put files.
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)")


def _windows_path(value: Any) -> str | None:
    if not isinstance(value, str) or not _WINDOWS_PATH.match(value):
        return "must be a Windows path (C:\\... or \\\\server\\share\\...)"
    if len(value) > 260:
        return "must be at most 260 characters (MAX_PATH)"
    return None


def _slowdown(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 1 <= value <= 1000:
        return "must be a number from 1 to 1000"
    return None


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in allowed:
            return "must be one of " + ", ".join(repr(a) for a in allowed)
        return None

    return check


def _delay(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 < value <= 3600:
        return "must be a number of seconds from 0 (excluded) to 3600"
    return None


# The configuration values and private properties a defect may change after a move.
CONFIG_KEYS = (
    "processor_count",
    "memory_minimum_bytes",
    "memory_maximum_bytes",
    "dynamic_memory_enabled",
    "generation",
    "automatic_start_action",
    "automatic_stop_action",
    "automatic_start_delay_s",
    "checkpoints",
)
PRIVATE_KEYS = ("CheckHeartbeat", "DefaultMoveType", "ShutdownAction", "StartMemory")


def _offline_action(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or value not in (0, 2, 3):
        return "must be 0 (Turn Off), 2 (Shutdown) or 3 (Shutdown Forced)"
    return None


def _lead(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 10 <= value <= 3600:
        return "must be a number of seconds from 10 to 3600"
    return None


# rule id -> parameter -> check returning the reason it is wrong (None: fine).
PARAMS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "saved_state_on_vm_storage": {"path": _windows_path},
    "link_points_at_config": {"target": _windows_path},
    "storage_speed_as_declared": {"factor": _slowdown},
    "configuration_kept": {"property": _one_of(*CONFIG_KEYS)},
    "resource_values_kept": {"property": _one_of(*PRIVATE_KEYS)},
    "state_holds_after_move": {"delay_s": _delay},
    "owner_holds_after_move": {"delay_s": _delay},
    "move_request_saves": {"method": _one_of("cluster_group", "vm_role", "any")},
    "offline_action_save": {"value": _offline_action},
    "state_paths_on_vm_storage": {"path": _windows_path},
    "history_offline_before_online": {"lead_s": _lead},
}


def check_params(rule_id: str, params: Mapping[str, Any], source: str, at: str) -> None:
    """InputError naming `at`.params.<key> for an unknown parameter or a bad value."""
    known = PARAMS.get(rule_id, {})
    for key, value in params.items():
        check = known.get(str(key))
        if check is None:
            allowed = ", ".join(sorted(known)) or "none"
            reason = f"rule {rule_id!r} takes no parameter {key!r} (parameters: {allowed})"
            raise InputError(source, f"{at}.params.{key}", reason)
        problem = check(value)
        if problem is not None:
            raise InputError(source, f"{at}.params.{key}", problem)
