"""The auditor's summary: summary.json and a one-file summary.html (Jinja2) of a run."""

from __future__ import annotations

import base64
import getpass
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from harness import __version__
from harness.domain.claims import CLAIM_TITLES, CLAIMS
from harness.errors import InputError
from harness.evidence.manifest import file_sha256, read_records
from harness.evidence.records import atomic_write, validate
from harness.evidence.verdicts import claim_checks
from harness.evidence.waivers import waived_claim_verdicts
from harness.figures import denoise, number, plain
from harness.redact import mask_document
from harness.schemas import validate_document
from harness.yamlfile import read_yaml_file

SUMMARY_JSON = "summary.json"
SUMMARY_HTML = "summary.html"
PLOT_NAME = "downtime-vs-memory.png"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TOPOLOGY = Path(__file__).resolve().parents[1] / "lab" / "topologies" / "default.yaml"
LAB_KINDS = ("lab", "lab+inproc", "lab+sim")
# The measurements an auditor asks about first: downtime per GiB of memory (QM-09's fit) and
# the guest clock lag (QM-15). Matched by name as the steps record them.
KEY_MEASUREMENT_WORDS = ("per gib", "fit quality", "clock lag", "lag before")


@dataclass(frozen=True)
class Control:
    """An organisation's control id and the claims that evidence it."""

    id: str
    title: str
    claims: tuple[str, ...]


def load_controls(path: str | Path) -> list[Control]:
    """Read a controls file (YAML, schema controls.schema.json); InputError for unknown claims."""
    source = str(path)
    doc = read_yaml_file(path)
    validate_document("controls", doc, source)
    controls = []
    seen: set[str] = set()
    for i, item in enumerate(doc["controls"]):
        for j, claim in enumerate(item["claims"]):
            if claim not in CLAIMS:
                raise InputError(source, f"$.controls[{i}].claims[{j}]", f"unknown claim {claim!r}")
        if item["id"] in seen:
            raise InputError(source, f"$.controls[{i}].id", f"duplicate control id {item['id']!r}")
        seen.add(item["id"])
        controls.append(Control(item["id"], item.get("title", ""), tuple(item["claims"])))
    return controls


def target_file(spec: str) -> Path | None:
    """The file that describes the target: the lab topology or the inventory (None if unknown)."""
    kind, sep, rest = spec.partition(":")
    if kind in LAB_KINDS:
        return Path(rest) if sep and rest else DEFAULT_TOPOLOGY
    return Path(spec)


def _operator() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _key_measurements(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        for name, entry in (rec.get("measurements") or {}).items():
            if any(word in name.lower() for word in KEY_MEASUREMENT_WORDS):
                rows.append(
                    {
                        "claim": rec.get("claim"),
                        "scenario": rec.get("scenario"),
                        "name": name,
                        "value": entry.get("value"),
                        "unit": entry.get("unit"),
                    }
                )
    return rows


def build_summary(
    run_dir: Path,
    *,
    run_id: str,
    target_spec: str,
    started_utc: str,
    finished_utc: str,
    duration_s: float,
    signature: str,
    controls: list[Control] | None = None,
) -> dict[str, Any]:
    """The summary document (summary.json) from the run's evidence records."""
    run_dir = Path(run_dir)
    records = read_records(run_dir)
    names = sorted((run_dir / "evidence").glob("*.json"))
    verdicts = waived_claim_verdicts(records)
    checks = claim_checks(records)
    target = records[0]["target"] if records else None
    claims: list[dict[str, Any]] = []
    for claim in CLAIMS:
        evidence: list[dict[str, Any]] = []
        waivers: list[dict[str, Any]] = []
        for path, rec in zip(names, records, strict=True):
            if rec.get("claim") != claim:
                continue
            evidence.append(
                {
                    "file": f"evidence/{path.name}",
                    "sha256": file_sha256(path),
                    "scenario": rec.get("scenario"),
                    "verdict": "waived"
                    if rec.get("verdict") == "failed" and rec.get("waiver")
                    else rec.get("verdict"),
                    "failure": rec.get("failure"),
                }
            )
            waiver = {"scenario": None, "vm": None, **(rec.get("waiver") or {})}
            if rec.get("waiver") and waiver not in waivers:
                waivers.append(waiver)
        claims.append(
            {
                "claim": claim,
                "title": CLAIM_TITLES.get(claim, ""),
                "verdict": verdicts.get(claim, "not run"),
                "checked": checks.get(claim, ""),
                "evidence": evidence,
                "waivers": waivers,
            }
        )
    tfile = target_file(target_spec)
    is_lab = target_spec.partition(":")[0] in LAB_KINDS
    target_doc = {
        "spec": target_spec,
        "kind": (target or {}).get("kind", "lab" if is_lab else "cluster"),
        "cluster": (target or {}).get("cluster"),
        "nodes": (target or {}).get("nodes", []),
        "file": str(tfile) if tfile else None,
        "file_sha256": file_sha256(tfile) if tfile and tfile.is_file() else None,
    }
    plot = run_dir / PLOT_NAME
    counts = {v: 0 for v in ("passed", "failed", "broken", "skipped", "waived", "not run")}
    for row in claims:
        counts[str(row["verdict"])] += 1
    doc: dict[str, Any] = {
        "summary_version": 1,
        "run_id": run_id,
        "qmaudit_version": __version__,
        "target": target_doc,
        "started_utc": started_utc,
        "finished_utc": finished_utc,
        "duration_s": round(duration_s, 1),
        "operator": _operator(),
        "claims": claims,
        "claim_counts": counts,
        "measurements": _key_measurements(records),
        "plot": {"file": PLOT_NAME, "sha256": file_sha256(plot)} if plot.is_file() else None,
        "waivers_applied": [{"claim": row["claim"], **w} for row in claims for w in row["waivers"]],
        "signature": signature,
        "controls": [
            {"id": c.id, "title": c.title, "claims": list(c.claims)} for c in controls or []
        ],
    }
    validate("summary", doc, f"summary of run {run_id}")
    return doc


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure"] = _figure
    env.filters["denoise"] = denoise
    return env


def _figure(value: Any, unit: Any = None) -> str:
    """A measurement for the page: rounded, with its unit (summary.json keeps the exact value)."""
    text = number(float(value)) if isinstance(value, int | float) else plain(value)
    return f"{text} {unit}".strip() if unit else text


def render_html(doc: dict[str, Any], run_dir: Path) -> str:
    """summary.html: everything inline (styles, the plot as a data: URI), nothing fetched."""
    plot_uri = None
    if doc["plot"]:
        data = (Path(run_dir) / doc["plot"]["file"]).read_bytes()
        plot_uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    by_claim = {row["claim"]: row for row in doc["claims"]}
    groups = []
    mapped: set[str] = set()
    for control in doc["controls"]:
        groups.append(
            {
                "title": f"{control['id']} {control['title']}".strip(),
                "rows": [by_claim[c] for c in control["claims"]],
            }
        )
        mapped.update(control["claims"])
    rest = [row for row in doc["claims"] if row["claim"] not in mapped]
    if rest:
        groups.append({"title": "Claims not mapped to a control" if groups else "", "rows": rest})
    template = _environment().get_template("summary.html.j2")
    return template.render(doc=doc, groups=groups, plot_uri=plot_uri)


def write_summary(run_dir: Path, doc: dict[str, Any]) -> tuple[Path, Path]:
    """Write summary.json and summary.html into the run folder (atomically)."""
    run_dir = Path(run_dir)
    json_path, html_path = run_dir / SUMMARY_JSON, run_dir / SUMMARY_HTML
    doc = mask_document(doc)
    atomic_write(json_path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
    atomic_write(html_path, render_html(doc, run_dir).encode("utf-8"))
    return json_path, html_path
