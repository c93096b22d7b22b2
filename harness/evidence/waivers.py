"""Waivers: approved, expiring exceptions that turn a failed claim into WAIVED (never PASSED)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness.boundedfile import read_bounded
from harness.domain.claims import CLAIMS
from harness.errors import InputError
from harness.evidence.records import atomic_write, dump_json, validate
from harness.schemas import validate_document
from harness.yamlfile import MAX_BYTES, parse_yaml

WAIVERS_NAME = "waivers.yaml"
# Verdict order for a claim: the worst of its scenarios. A waived failure is better than a
# broken scenario (which no waiver can cover: there is no evidence to waive) and worse than a pass.
WAIVED_RANK = {"failed": 4, "broken": 3, "waived": 2, "passed": 1, "skipped": 0}


@dataclass(frozen=True)
class Waiver:
    """One approved exception: a claim (optionally one scenario or VM), why, who, until when."""

    claim: str
    justification: str
    approved_by: str
    expires: date
    scenario: str | None = None
    vm: str | None = None

    def covers(self, record: dict[str, Any]) -> bool:
        """Whether this waiver covers a failed evidence record."""
        if record.get("verdict") != "failed" or record.get("claim") != self.claim:
            return False
        if self.scenario is not None and record.get("scenario") != self.scenario:
            return False
        vms = [str(v).lower() for v in record.get("vms") or []]
        return self.vm is None or self.vm.lower() in vms

    def text(self) -> str:
        """One line for tables and reports."""
        scope = "".join(
            f", {k} {v!r}" for k, v in (("scenario", self.scenario), ("vm", self.vm)) if v
        )
        return (
            f"waived{scope}: {self.justification} "
            f"(approved by {self.approved_by}, expires {self.expires.isoformat()})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for evidence records and summary.json)."""
        doc: dict[str, Any] = {
            "claim": self.claim,
            "justification": self.justification,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
        }
        doc.update({k: v for k, v in (("scenario", self.scenario), ("vm", self.vm)) if v})
        return doc


@dataclass(frozen=True)
class WaiverSet:
    """The waivers of one file, checked; and the file's bytes, copied into the run folder."""

    source: str
    waivers: tuple[Waiver, ...]
    raw: bytes

    def waiver_for(self, record: dict[str, Any]) -> Waiver | None:
        """The first waiver covering a failed record, if any."""
        return next((w for w in self.waivers if w.covers(record)), None)


def load_waivers(path: str | Path, today: date | None = None) -> WaiverSet:
    """Read and check a waiver file: schema, real dates, known claims, none expired (InputError)."""
    source = str(path)
    # Read once: `--waivers <(...)` is a pipe, and the copy in the run folder must be these
    # very bytes (a second read would find it empty).
    raw = read_bounded(path, MAX_BYTES, what="waivers file", regular_only=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not UTF-8 text") from None
    if not text.strip():
        raise InputError(source, "$", "the file is empty")
    doc = parse_yaml(text, source)
    validate_document("waivers", doc, source)
    today = today or datetime.now(UTC).date()
    waivers = []
    for i, item in enumerate(doc["waivers"]):
        where = f"$.waivers[{i}]"
        try:
            expires = date.fromisoformat(item["expires"])
        except ValueError:
            raise InputError(
                source, f"{where}.expires", f"not a calendar date: {item['expires']!r}"
            ) from None
        if item["claim"] not in CLAIMS:
            raise InputError(source, f"{where}.claim", f"unknown claim {item['claim']!r}")
        # A waiver is valid through its expiry day (UTC).
        if expires < today:
            raise InputError(source, f"{where}.expires", f"waiver expired on {expires.isoformat()}")
        waivers.append(
            Waiver(
                claim=item["claim"],
                justification=item["justification"].strip(),
                approved_by=item["approved_by"].strip(),
                expires=expires,
                scenario=item.get("scenario"),
                vm=item.get("vm"),
            )
        )
    return WaiverSet(source=source, waivers=tuple(waivers), raw=raw)


def apply_waivers(run_dir: Path, waivers: WaiverSet) -> list[dict[str, Any]]:
    """Mark each covered failed record (field `waiver`), copy the file in; the waivers applied."""
    run_dir = Path(run_dir)
    atomic_write(run_dir / WAIVERS_NAME, waivers.raw)
    applied = []
    for path in sorted((run_dir / "evidence").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        waiver = waivers.waiver_for(record)
        if waiver is None:
            continue
        # The verdict stays "failed": the record says what was observed, the waiver says why
        # the failure is accepted.
        record["waiver"] = waiver.to_dict()
        validate("evidence", record, f"evidence record {path.name}")
        atomic_write(path, dump_json(record, "evidence"))
        applied.append(
            {
                "record": f"evidence/{path.name}",
                "scenario": record.get("scenario"),
                **waiver.to_dict(),
            }
        )
    return applied


def waived_claim_verdicts(records: list[dict[str, Any]]) -> dict[str, str]:
    """Per claim, the worst verdict of its scenarios, a failure with a waiver counting as waived."""
    from harness.evidence.verdicts import record_claim_verdicts

    claims: dict[str, str] = {}
    for rec in records:
        waiver = rec.get("waiver") or {}
        for claim, found in record_claim_verdicts(rec):
            covers = bool(waiver) and waiver.get("claim", rec.get("claim")) == claim
            verdict = "waived" if found == "failed" and covers else found
            if verdict in WAIVED_RANK and (
                claim not in claims or WAIVED_RANK[verdict] > WAIVED_RANK[claims[claim]]
            ):
                claims[claim] = verdict
    return dict(sorted(claims.items()))


def claim_waivers(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per waived claim, the waiver texts applied to its records (deduplicated, in order)."""
    texts: dict[str, list[str]] = {}
    for rec in records:
        waiver = rec.get("waiver")
        if rec.get("verdict") != "failed" or not waiver:
            continue
        text = Waiver(
            claim=waiver["claim"],
            justification=waiver["justification"],
            approved_by=waiver["approved_by"],
            expires=date.fromisoformat(waiver["expires"]),
            scenario=waiver.get("scenario"),
            vm=waiver.get("vm"),
        ).text()
        bucket = texts.setdefault(str(rec.get("claim")), [])
        if text not in bucket:
            bucket.append(text)
    return texts


def _allure_claim(result: dict[str, Any]) -> str | None:
    for label in result.get("labels") or []:
        if label.get("name") == "story":
            return str(label.get("value", "")).split(" ", 1)[0]
    return None


def _allure_params(result: dict[str, Any]) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value")) for p in result.get("parameters") or []}


def mark_allure_results(results_dir: Path, records: list[dict[str, Any]]) -> int:
    """Prefix the message of each waived failure's Allure result with WAIVED (its own category)."""
    waived = [r for r in records if r.get("verdict") == "failed" and r.get("waiver")]
    marked = 0
    for path in sorted(Path(results_dir).glob("*-result.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("status") != "failed":
            continue
        params = _allure_params(result)
        for rec in waived:
            if rec.get("claim") != _allure_claim(result) or rec.get("scenario") != result.get(
                "name"
            ):
                continue
            # Outline examples share a name: their parameters tell them apart.
            rec_params = {str(k): str(v) for k, v in (rec.get("params") or {}).items()}
            if rec_params and params and any(params.get(k) != v for k, v in rec_params.items()):
                continue
            waiver = rec["waiver"]
            details = result.setdefault("statusDetails", {})
            details["message"] = (
                f"WAIVED: {waiver['justification']} (approved by {waiver['approved_by']}, "
                f"expires {waiver['expires']})\n\n{details.get('message') or ''}"
            )
            result.setdefault("labels", []).append({"name": "tag", "value": "waived"})
            atomic_write(path, (json.dumps(result, indent=1) + "\n").encode("utf-8"))
            marked += 1
            break
    return marked
