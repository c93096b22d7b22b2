"""The driver seam: run_probe(name, params, node) -> validated dict, plus the probe transcript."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ProbeRecord:
    """One probe call as recorded for evidence (parameters already redacted by the caller)."""

    probe: str
    node: str
    params: dict[str, Any]
    started_utc: str
    duration_s: float
    output_sha256: str
    document: dict[str, Any] | None = None
    error: str | None = None


def utc_now_iso() -> str:
    """The local UTC time as an ISO 8601 string with a Z suffix."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def sha256_text(text: str) -> str:
    """SHA-256 of the text as UTF-8, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(doc: Any) -> str:
    """Stable JSON text used for hashing in-process documents."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Driver(Protocol):
    """Anything that can run a named probe on a node of the target and return its document."""

    @property
    def nodes(self) -> list[str]:
        """Names of the nodes this driver can address, first = default."""
        ...

    def run_probe(
        self, name: str, params: dict[str, Any] | None = None, node: str | None = None
    ) -> dict[str, Any]:
        """Run probe `name` with `params` on `node` (default: first node); validated document."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass
class TranscriptMixin:
    """Keeps the list of ProbeRecords and notifies listeners (the evidence recorder)."""

    listeners: list[Callable[[ProbeRecord], None]] = field(default_factory=list)
    transcript: list[ProbeRecord] = field(default_factory=list)

    def _record(self, record: ProbeRecord) -> None:
        self.transcript.append(record)
        for listener in list(self.listeners):
            listener(record)
