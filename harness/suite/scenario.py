"""The scenario a pytest item runs: its claim, feature, title and example values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass(frozen=True)
class ScenarioInfo:
    """What a person needs to recognise a scenario (no pytest ids)."""

    claim: str
    feature: str
    name: str
    tags: list[str] = field(default_factory=list)
    example: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """`QM-02 Saved state is written to shared storage (CSV, configuration version 9.0)`.

        The example values fill the name's <placeholders>; values the name does not show are
        appended in parentheses, so two examples never print the same line.
        """
        unused = [v for k, v in self.example.items() if f"<{k}>" not in self.name]
        values = f" ({', '.join(unused)})" if unused else ""
        return f"{self.claim} {self.rendered}{values}"

    @property
    def rendered(self) -> str:
        """The name with its <placeholders> filled in, as pytest-bdd renders it."""
        name = self.name
        for key, value in self.example.items():
            name = name.replace(f"<{key}>", value)
        return name


def scenario_of(item: Any) -> ScenarioInfo | None:
    """The pytest-bdd scenario behind a collected item, or None for any other test."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    marker = item.get_closest_marker("claim") if isinstance(item, pytest.Item) else None
    function = getattr(item, "function", None)
    if marker is None or function is None:
        return None
    template = scenario_wrapper_template_registry.get(function)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example: dict[str, str] = {}
    if callspec is not None:
        raw = callspec.params.get("_pytest_bdd_example", {})
        example = {str(k): str(v) for k, v in raw.items()}
    tags = set(template.tags) | set(template.feature.tags)
    return ScenarioInfo(
        claim=str(marker.args[0]),
        feature=str(template.feature.name),
        name=str(template.name),
        tags=sorted(tags),
        example=example,
    )
