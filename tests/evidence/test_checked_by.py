"""How each claim was checked: by a move, passively or from history; NOT JUDGED says why."""

from __future__ import annotations

from harness.evidence.verdicts import checked_by, claim_checks


def _rec(claim: str, verdict: str, *tags: str) -> dict[str, object]:
    return {"claim": claim, "verdict": verdict, "tags": list(tags), "checked": checked_by(tags)}


def test_tags_say_how_a_scenario_checks_its_claim() -> None:
    assert checked_by(["disruptive", "claim:QM-01"]) == "move"
    assert checked_by(["passive", "static"]) == "passive"
    assert checked_by(["passive", "history"]) == "history"


def test_a_claim_reads_the_ways_that_judged_it() -> None:
    checks = claim_checks(
        [
            _rec("QM-01", "passed", "passive", "history"),
            _rec("QM-01", "skipped", "passive", "static"),
            _rec("QM-01", "skipped", "disruptive"),
            _rec("QM-02", "skipped", "disruptive"),
            _rec("QM-03", "skipped", "passive", "static"),
            _rec("QM-04", "failed", "disruptive"),
            _rec("QM-12", "passed", "passive", "static"),
            _rec("QM-12", "passed", "passive", "history"),
        ]
    )
    assert checks == {
        "QM-01": "history",
        "QM-02": "needs a move",
        "QM-03": "passive (inconclusive)",
        "QM-04": "move",
        "QM-12": "passive + history",
    }


def test_an_old_record_without_the_field_is_read_from_its_tags() -> None:
    rec = {"claim": "QM-10", "verdict": "passed", "tags": ["passive", "history"]}
    assert claim_checks([rec]) == {"QM-10": "history"}
