"""Evidence records per scenario, written redacted and schema-checked, and the run manifest."""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import jsonschema

from harness.atomic import atomic_write
from harness.domain.identity import TargetIdentity
from harness.drivers.base import ProbeRecord, utc_now_iso
from harness.errors import HarnessError, InputError
from harness.evidence.verdicts import Verdict, checked_by
from harness.redact import mask_document

ThresholdSource = Literal["default", "inventory", "topology", "option"]
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"

_issued_lock = threading.Lock()
_issued_run_ids: set[str] = set()


class EvidenceError(HarnessError):
    """An evidence record or manifest could not be produced (invalid against its schema, I/O)."""

    def __init__(self, what: str, location: str, reason: str) -> None:
        self.what = what
        self.location = location
        self.reason = reason
        where = f"{what} at {location}" if location else what
        super().__init__(f"evidence not written: {where}: {reason}")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, filesystem-safe run id such as 20261127T231500Z-3f9a; unique in this process."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    with _issued_lock:
        while True:
            run_id = f"{stamp}-{secrets.token_hex(2)}"
            if run_id not in _issued_run_ids:
                _issued_run_ids.add(run_id)
                return run_id


RUN_ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}")


def check_run_id(run_id: str, source: str = "--run-id") -> str:
    """A run id given by the user must look like one new_run_id makes (the manifest checks it)."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise InputError(source, repr(run_id), "a run id looks like 20261127T231500Z-3f9a")
    return run_id


def _empty_observations() -> dict[str, Any]:
    return {"before": {}, "during": [], "after": {}}


@dataclass
class ScenarioEvidence:
    """Everything one scenario's verdict rests on; steps fill it, the plugin writes it."""

    run_id: str
    scenario: str
    feature: str
    claim: str
    target: TargetIdentity
    tags: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    vms: list[str] = field(default_factory=list)
    started_utc: str = field(default_factory=utc_now_iso)
    finished_utc: str | None = None
    observations: dict[str, Any] = field(default_factory=_empty_observations)
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict: Verdict = "skipped"
    failure: str | None = None
    claims_violated: list[str] = field(default_factory=list)
    own_verdict: Verdict = "broken"
    transcript: list[ProbeRecord] = field(default_factory=list)

    def observe(self, phase: Literal["before", "during", "after"], key: str, value: Any) -> None:
        """Record an observation; "during" keeps every sample in order, the others the last."""
        if phase == "during":
            entry = {"key": key, "value": value, "recorded_utc": utc_now_iso()}
            self.observations["during"].append(entry)
        elif phase in ("before", "after"):
            self.observations[phase][key] = value
        else:
            raise ValueError(f"observation phase must be before, during or after, not {phase!r}")

    def measure(self, name: str, value: Any, unit: str, **extra: Any) -> None:
        """Record a measurement; given a numeric `truth` (lab) but no `error`: value - truth."""
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"measurement {name!r} is not a finite number: {value!r}")
        unknown = set(extra) - {"truth", "error", "detail"}
        if unknown:
            raise ValueError(f"measurement {name!r}: unknown fields {sorted(unknown)}")
        entry: dict[str, Any] = {"value": value, "unit": unit, **extra}
        truth = extra.get("truth")
        if "error" not in extra and _is_number(value) and _is_number(truth):
            entry["error"] = value - truth
        self.measurements[name] = entry

    def threshold(self, name: str, value: Any, unit: str, source: ThresholdSource) -> None:
        """Record a threshold a verdict was judged against and where its value came from."""
        self.thresholds[name] = {"value": value, "unit": unit, "source": source}

    def record_probe(self, record: ProbeRecord) -> None:
        """Append a probe call; usable as a driver transcript listener."""
        self.transcript.append(record)

    def attribute(self, claims_violated: Sequence[str], own_verdict: Verdict) -> None:
        """A broken move invariant fails `claims_violated`; `own_verdict` is the own claim's."""
        self.claims_violated = list(claims_violated)
        self.own_verdict = own_verdict

    def finish(self, verdict: Verdict, failure: str | None = None) -> None:
        """Set the verdict and the finishing time."""
        self.verdict = verdict
        self.failure = failure
        self.finished_utc = utc_now_iso()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (not yet redacted; EvidenceWriter redacts)."""
        return {
            "record_version": 1,
            "run_id": self.run_id,
            "scenario": self.scenario,
            "feature": self.feature,
            "claim": self.claim,
            "tags": list(self.tags),
            "params": dict(self.params),
            "target": self.target.to_dict(),
            "vms": list(self.vms),
            "started_utc": self.started_utc,
            "finished_utc": self.finished_utc,
            "observations": self.observations,
            "measurements": self.measurements,
            "thresholds": self.thresholds,
            "verdict": self.verdict,
            "checked": checked_by(self.tags),
            "failure": self.failure,
            **(
                {"claims_violated": self.claims_violated, "own_verdict": self.own_verdict}
                if self.claims_violated
                else {}
            ),
            "transcript": [_probe_dict(r) for r in self.transcript],
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _probe_dict(record: ProbeRecord) -> dict[str, Any]:
    # The parsed document is left out on purpose: the observations hold what a verdict rests
    # on, and the hash ties the transcript entry to the raw output.
    data = asdict(record)
    data.pop("document", None)
    return data


def redact_document(doc: Any) -> Any:
    """A copy with credential-named keys masked and every registered secret masked."""
    return mask_document(doc)


def validate(stem: str, doc: dict[str, Any], label: str) -> None:
    """Check doc against harness/schemas/<stem>.schema.json; EvidenceError on the first problem."""
    # Prefer the project's shared validator (one place resolving $refs between schemas) once
    # harness.schemas provides it; until then jsonschema directly, with the same outcome.
    shared = getattr(importlib.import_module("harness.schemas"), "validate_document", None)
    if shared is not None:
        try:
            shared(stem, doc, label)
        except InputError as exc:
            raise EvidenceError(label, exc.location, exc.reason) from None
        return
    try:
        _validator(stem).validate(doc)
    except jsonschema.ValidationError as exc:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        raise EvidenceError(label, where, exc.message) from None


@functools.cache
def _validator(stem: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / f"{stem}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def dump_json(doc: dict[str, Any], what: str) -> bytes:
    try:
        text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise EvidenceError(what, "", f"not serialisable as JSON: {exc}") from exc
    return (text + "\n").encode("utf-8")


def _slug(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "scenario"


class EvidenceWriter:
    """Writes evidence records under <run_dir>/evidence/ and attaches them to Allure."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.evidence_dir = self.run_dir / "evidence"
        self._lock = threading.Lock()
        self._count = 0
        # Distinguishes files from parallel pytest-xdist workers, which each have a writer.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self._worker = re.sub(r"[^A-Za-z0-9]+", "", worker)

    def write(self, ev: ScenarioEvidence, *, attach: bool = True, path: Path | None = None) -> Path:
        """Redact, validate, write atomically and attach; the written path (`path`: rewrite)."""
        doc = redact_document(ev.to_dict())
        label = f"evidence record for {ev.claim} {ev.scenario!r}"
        validate("evidence", doc, label)
        data = dump_json(doc, label)
        if path is None:
            with self._lock:
                self._count += 1
                number = self._count
            suffix = "-".join(p for p in (self._worker, uuid.uuid4().hex[:6]) if p)
            name = f"{number:03d}-{ev.claim}-{_slug(ev.scenario)}-{suffix}.json"
            path = self.evidence_dir / name
        atomic_write(path, data)
        if attach:
            _attach_json(path, f"evidence {ev.claim}")
        return path


def _attach_json(path: Path, name: str) -> None:
    import allure

    allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.JSON)
