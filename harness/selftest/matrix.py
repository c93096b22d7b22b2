"""The self-test's detection matrix: figures, JSON and Markdown files, and the selftest command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.lab.topology import load_default_topology
from harness.selftest.profiles import Profile, check_scopes, load_profile, shipped_profiles
from harness.selftest.runner import (
    Row,
    Variant,
    clean_variant,
    profile_variant,
    run_variants,
    text_variant,
    timed,
)

REPORT_DIR = Path("reports") / "selftest"
# How many of the random topologies are also audited passively (a passive run takes seconds).
PASSIVE_RANDOM = 20


def figures(rows: Sequence[Row], wall_time_s: float) -> dict[str, Any]:
    """The headline numbers: profiles run, defects detected / total, false alarms, wall time."""
    defect_rows = [r for r in rows if r.kind in ("profile", "combined")]
    pairs = [(r.name, c) for r in defect_rows for c in r.primary]
    detected = [(r.name, c) for r in defect_rows for c in r.primary if c in r.failed]
    clean = [r for r in rows if r.kind == "clean"]
    randoms = [r for r in rows if r.kind == "random"]
    return {
        "profiles_run": len(defect_rows),
        "profiles_detected": sum(1 for r in defect_rows if not r.missed),
        "defects_detected": len(detected),
        "defects_total": len(pairs),
        "false_alarms_profiles": sum(len(r.unexpected) for r in defect_rows),
        "false_alarms_clean": sum(len(r.unexpected) for r in clean),
        "random_topologies": len(randoms),
        "false_alarms_random": sum(len(r.unexpected) for r in randoms),
        "wall_time_s": round(wall_time_s, 1),
        "ok": all(r.ok for r in rows),
    }


def _row_doc(row: Row) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "primary": list(row.primary),
        "expected": list(row.expected),
        "failed": list(row.failed),
        "broken": list(row.broken),
        "missed": list(row.missed),
        "unexpected": list(row.unexpected),
        "scenarios": row.counts,
        "ok": row.ok,
    }
    if not row.ok:
        doc["detail"] = row.detail
        if row.topology:
            doc["topology"] = row.topology
    return doc


def matrix_doc(rows: Sequence[Row], wall_time_s: float, lab: str) -> dict[str, Any]:
    return {
        "generated_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "lab": lab,
        "figures": figures(rows, wall_time_s),
        "rows": [_row_doc(r) for r in rows],
    }


def _cell(claims: Sequence[str]) -> str:
    return ", ".join(claims) or "-"


def render_markdown(doc: dict[str, Any]) -> str:
    """The matrix as a Markdown table followed by the figures."""
    lines = [
        "| profile | expected to fail | failed | broken | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        verdict = (
            "ok"
            if r["ok"]
            else "MISSED " * bool(r["missed"]) + "FALSE ALARM" * bool(r["unexpected"])
        )
        cells = [r["name"], _cell(r["expected"]), _cell(r["failed"]), _cell(r["broken"])]
        lines.append("| " + " | ".join([*cells, verdict.strip() or "no scenario ran"]) + " |")
    f = doc["figures"]
    lines += [
        "",
        f"Profiles run: {f['profiles_run']}; defects detected: {f['defects_detected']} / "
        f"{f['defects_total']}; false alarms: clean lab {f['false_alarms_clean']}, profiles "
        f"{f['false_alarms_profiles']}, random topologies {f['false_alarms_random']} "
        f"(of {f['random_topologies']}); wall time {f['wall_time_s']} s on lab `{doc['lab']}`.",
    ]
    return "\n".join(lines) + "\n"


def render_text(doc: dict[str, Any]) -> str:
    """The matrix for the terminal, one line per row, with the details of any wrong row."""
    width = max([len(r["name"]) for r in doc["rows"]] + [7])
    lines = [f"{'profile':{width}}  {'expected':20} {'failed':20} {'broken':12} verdict"]
    for r in doc["rows"]:
        verdict = (
            "ok"
            if r["ok"]
            else f"missed {_cell(r['missed'])}; false alarm " + _cell(r["unexpected"])
        )
        lines.append(
            f"{r['name']:{width}}  {_cell(r['expected']):20} {_cell(r['failed']):20} "
            f"{_cell(r['broken']):12} {verdict}"
        )
    for r in doc["rows"]:
        if not r["ok"]:
            lines.append(f"\n--- {r['name']}:\n{r.get('detail', '')}")
            if r.get("topology"):
                lines.append(f"--- topology to reproduce it:\n{r['topology']}")
    f = doc["figures"]
    lines += [
        "",
        f"profiles run: {f['profiles_run']}",
        f"defects detected: {f['defects_detected']} / {f['defects_total']}",
        f"false alarms: clean lab {f['false_alarms_clean']}, profiles "
        f"{f['false_alarms_profiles']}, random topologies {f['false_alarms_random']} "
        f"(of {f['random_topologies']})",
        f"wall time: {f['wall_time_s']} s (lab {doc['lab']})",
    ]
    return "\n".join(lines)


def write_reports(doc: dict[str, Any], folder: Path = REPORT_DIR) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "matrix.json", folder / "matrix.md"
    json_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    return json_path, md_path


def plan_variants(
    pattern: str, combine: Sequence[str], random_count: int, seed: int
) -> list[Variant]:
    """Clean lab, then each shipped profile (or one combination of the given files), randoms."""
    variants = [clean_variant()]
    if combine:
        chosen: list[Profile] = [load_profile(p) for p in combine]
    else:
        chosen = shipped_profiles(pattern)
    # Every VM, node and parameter of every profile is checked against the lab before the
    # first run starts, so a typo is an input error, not a broken row after the clean run.
    base = load_default_topology()
    for prof in chosen:
        check_scopes(prof, base)
    if combine:
        if len({p.mode for p in chosen}) > 1:
            raise InputError(
                "--profile", ", ".join(combine), "passive and move profiles cannot be combined"
            )
        variants.append(profile_variant(chosen))
    else:
        variants += [profile_variant([p]) for p in chosen]
    if any(p.mode == "passive" for p in chosen) or random_count:
        # The clean lab audited passively too, when the matrix holds passive rows.
        variants.insert(1, clean_variant(passive=True))
    if random_count:
        from harness.selftest.topogen import random_topology_text

        for i in range(random_count):
            text = random_topology_text(seed + i)
            variants.append(text_variant(f"random #{i + 1}", text))
            if i < PASSIVE_RANDOM:  # a clean topology audited passively: nothing may fail
                variants.append(text_variant(f"random #{i + 1} (passive)", text, passive=True))
    return variants


def run_selftest(
    pattern: str = "*.yaml",
    combine: Sequence[str] = (),
    random_count: int = 0,
    jobs: int = 2,
    lab: str = "sim",
    seed: int = 0,
    out: Path = REPORT_DIR,
) -> int:
    """Run the self-test, print and write the matrix; 0 when every row is as expected."""
    variants = plan_variants(pattern, combine, random_count, seed)
    print(f"qmaudit selftest: {len(variants)} runs on lab {lab}, {jobs} at a time", flush=True)
    rows, wall = timed(lambda: run_variants(variants, lab, jobs, progress=True))
    doc = matrix_doc(rows, wall, lab)
    json_path, md_path = write_reports(doc, out)
    print(render_text(doc))
    print(f"matrix written to {json_path} and {md_path}")
    return 0 if doc["figures"]["ok"] else 1
