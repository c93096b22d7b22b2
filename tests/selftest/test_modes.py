"""The matrix of session modes on a clean topology: what a real Windows session sees never
turns into FAILED (second hop, Kerberos without delegation, CredSSP, de-DE, ConstrainedLanguage,
redirected CSV traffic on the cluster networks, events with extra properties)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.lab.topology import DEFAULT_TOPOLOGY
from harness.selftest.runner import run_scenarios

ENABLED = os.environ.get("QM_STRESS") == "1"

# Lines added at the top of the default topology, and the claims each mode may leave BROKEN
# (with the reason named in the output); every other claim must PASS, none may FAIL.
MODES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ntlm, de-DE, extra event properties, redirected CSV": (
        "session: {logon: ntlm}\nlocale: de-DE\nevent_extra_properties: 2\n",
        ("QM-02", "QM-09", "QM-12"),
        "second hop",
    ),
    "kerberos without delegation": (
        "session: {logon: kerberos}\n",
        ("QM-02", "QM-12"),
        "second hop",
    ),
    "CredSSP, de-DE": ("session: {logon: credssp}\nlocale: de-DE\n", (), ""),
    "ConstrainedLanguage": (
        "session: {language_mode: ConstrainedLanguage}\n",
        ("*",),
        "ConstrainedLanguage mode",
    ),
}


def _topology(tmp_path: Path, head: str, redirected: bool) -> Path:
    text = Path(DEFAULT_TOPOLOGY).read_text(encoding="utf-8")
    if redirected:
        text = text.replace("write_mb_s: 800}", "write_mb_s: 800, redirected: true}", 1)
    path = tmp_path / "topology.yaml"
    path.write_text(head + text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.skipif(not ENABLED, reason="the mode matrix runs with QM_STRESS=1 (CI sets it)")
@pytest.mark.parametrize("mode", list(MODES))
def test_no_session_mode_turns_a_healthy_cluster_into_failed(mode: str, tmp_path: Path) -> None:
    head, may_break, reason = MODES[mode]
    topology = _topology(tmp_path, head, redirected="redirected" in mode)
    result = run_scenarios(tmp_path, topology)
    counts: dict[str, int] = {}
    for outcome in result.scenarios:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    print(f"\nmode {mode}: {counts}")
    failed = [f"{o.name}: {o.message[:300]}" for o in result.scenarios if o.outcome == "failed"]
    assert not failed, "\n".join(failed)
    broken = {c for o in result.scenarios if o.outcome == "broken" for c in o.claims}
    if may_break != ("*",):
        assert broken <= set(may_break), (mode, sorted(broken))
        assert counts.get("passed", 0) > 30, (mode, counts)
    if reason:
        assert reason in result.output, (mode, result.output[-2000:])
