"""Shared helpers for the probe tests: recorded sample documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "probes"


def sample_text(probe: str) -> str:
    """The recorded raw output of a probe, as Windows PowerShell wrote it."""
    return (DATA_DIR / f"{probe}.json").read_text(encoding="utf-8")


def sample_doc(probe: str) -> dict[str, Any]:
    """The recorded document of a probe, freshly parsed (safe to mutate)."""
    doc = json.loads(sample_text(probe))
    assert isinstance(doc, dict)
    return doc
