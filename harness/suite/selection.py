"""Before an audit starts: which scenarios a -m expression selects, and what the target allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.targets.inventory import load_inventory
from harness.targets.registry import TargetSpec


def scenario_markers(features: Path) -> list[set[str]]:
    """Per scenario of the feature files, the markers pytest-bdd gives it (tags, claim split)."""
    return [tags for _title, tags in scenarios(features)]


def scenarios(features: Path) -> list[tuple[str, set[str]]]:
    """Per scenario of the feature files: its title and the markers pytest-bdd gives it."""
    out: list[tuple[str, set[str]]] = []
    for path in sorted(features.glob("*.feature")):
        pending: set[str] = set()
        feature_tags: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("@"):
                pending |= {t.lstrip("@") for t in text.split()}
            elif text.startswith("Feature:"):
                feature_tags, pending = pending, set()
            elif text.startswith(("Scenario:", "Scenario Outline:")):
                tags = feature_tags | pending
                tags |= {t.split(":", 1)[1] for t in tags if t.startswith("claim:")}
                tags |= {"claim"} if any(t.startswith("claim:") for t in tags) else set()
                title = text.split(":", 1)[1].strip()
                claims = sorted(t for t in tags if t.startswith("QM-"))
                out.append((f"{' '.join(claims)} {title}".strip(), tags))
                pending = set()
    return out


def matching(markers: str | None, features: Path) -> list[tuple[str, set[str]]]:
    """The scenarios a -m expression selects (all for none; all if pytest will refuse it)."""
    from _pytest.mark.expression import Expression

    found = scenarios(features)
    if markers is None or not markers.strip():
        return found
    try:
        expression = Expression.compile(markers)
    except SyntaxError:
        return found  # pytest reports the bad expression itself

    def matcher_for(tags: set[str]) -> Any:
        def matcher(name: str, /, **kwargs: Any) -> bool:
            return not kwargs and name in tags

        return matcher

    return [(t, tags) for t, tags in found if expression.evaluate(matcher_for(tags))]


def replay_refusals(markers: str | None, features: Path) -> tuple[list[str], list[str]]:
    """On a replay target: (titles of selected scenarios that need actions, of the others).

    A capture holds read probes only; every @disruptive scenario moves, drains or crashes
    something, so a replay cannot run it.
    """
    # @passive scenarios run only in a passive audit: a normal run never selects them.
    selected = [(t, tags) for t, tags in matching(markers, features) if "passive" not in tags]
    refused = [t for t, tags in selected if "disruptive" in tags]
    return refused, [t for t, tags in selected if "disruptive" not in tags]


def selects_disruptive(markers: str | None, features: Path) -> bool:
    """True when the -m expression selects at least one @disruptive scenario (True too for an
    expression pytest will refuse: it reports it itself)."""
    return any("disruptive" in tags for _title, tags in matching(markers, features))


def check_run_selection(spec: str | TargetSpec, markers: str | None) -> None:
    """Before an audit starts: an empty allowlist cannot run the disruptive scenarios."""
    from harness.targets.registry import parse_spec

    parsed = parse_spec(spec, check=False)
    if not parsed.is_inventory or parsed.path is None:
        return
    from harness.suite.runner import features_dir

    inventory = load_inventory(parsed.path)
    if not inventory.policy.allow and selects_disruptive(markers, features_dir()):
        raise InputError(
            inventory.source,
            "$.vms.allow",
            "the allowlist is empty but the selection includes @disruptive scenarios: "
            'list the VMs the audit may move, or select with -m "not disruptive"',
        )
