"""The run context of a pytest session: typed state shared by the plugin's fixtures and hooks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.domain.identity import TargetIdentity
    from harness.drivers.base import ProbeRecord
    from harness.evidence.records import EvidenceWriter, ScenarioEvidence
    from harness.targets.registry import Target, TargetSpec


@dataclass(frozen=True)
class ChosenTarget:
    """The target spec `qmaudit run`/`plan` parsed, handed to the plugin (not parsed again).

    `finished_by_caller`: the caller finishes the run itself (harness/evidence/finish.py);
    under plain pytest (no ChosenTarget) the plugin does it at the end of the session.
    """

    spec: TargetSpec
    finished_by_caller: bool = True


@dataclass
class RunContext:
    """Session-wide state of one audit run (a fixture, never a global)."""

    run_id: str
    run_dir: Path
    target: Target
    identity: TargetIdentity
    writer: EvidenceWriter
    current: ScenarioEvidence | None = None
    restore_problems: list[str] = field(default_factory=list)
    # Per pytest item: the record written at the end of the scenario and its file, so a setup
    # or teardown outcome can still settle the scenario's verdict.
    records: dict[str, tuple[ScenarioEvidence, Path]] = field(default_factory=dict)
    downtimes: list[tuple[str, float, float]] = field(default_factory=list)

    def on_probe(self, record: ProbeRecord) -> None:
        if self.current is not None:
            self.current.record_probe(record)


SPEC_KEY = pytest.StashKey["TargetSpec"]()
RUN_KEY = pytest.StashKey[RunContext]()
RUN_ID_KEY = pytest.StashKey[tuple[str, Path]]()
STARTED_KEY = pytest.StashKey[float]()


def plugin_of(config: pytest.Config, kind: type[Any]) -> Any:
    """The registered plugin object of a type (passed to pytest.main by the runner)."""
    # list_name_plugin, not get_plugins: that builds a set, and dataclass plugins don't hash.
    for _name, plugin in config.pluginmanager.list_name_plugin():
        if isinstance(plugin, kind):
            return plugin
    return None


def run_dir_of(config: pytest.Config) -> tuple[str, Path]:
    """The run's id and folder: chosen once by the controller; xdist workers get them from it."""
    from harness.evidence.records import new_run_id

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "qm_run_id" in workerinput:
        return str(workerinput["qm_run_id"]), Path(workerinput["qm_run_dir"])
    chosen = config.stash.get(RUN_ID_KEY, None)
    if chosen is None:
        run_id = config.getoption("--qm-run-id") or os.environ.get("QM_RUN_ID") or new_run_id()
        given = config.getoption("--qm-run-dir")
        chosen = (run_id, Path(given) if given else Path("reports") / run_id)
        config.stash[RUN_ID_KEY] = chosen
        config.stash[STARTED_KEY] = time.monotonic()
    return chosen
