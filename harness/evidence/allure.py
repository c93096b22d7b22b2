"""Allure extras (labels, environment, categories, attachments) and the Allure 3 HTML report."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from harness.audit.claims import CLAIM_TITLES
from harness.evidence.records import TargetIdentity
from harness.safety.redact import redact

EPIC = "Hyper-V Quick Migration"
# Same rules as tools/allure/allurerc.mjs (the Allure 3 awesome report reads those; this file
# serves the Allure 2 / classic readers of the results folder).
CATEGORIES: list[dict[str, object]] = [
    {
        "name": "Claim violated",
        "description": "The target did not behave as the claim says (assertion failed).",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Evidence could not be gathered",
        "description": "Unreachable node, bad probe output or timeout: the claim is unverified.",
        "matchedStatuses": ["broken"],
    },
    {
        "name": "Skipped: not applicable to this target",
        "description": "The target lacks what the scenario needs (or it was not opted in).",
        "matchedStatuses": ["skipped"],
    },
]
GENERATE_TIMEOUT_S = 180.0
_REPO = Path(__file__).resolve().parents[2]


def story(claim: str) -> str:
    """The Allure story of a claim: its id and short title."""
    title = CLAIM_TITLES.get(claim)
    return f"{claim} {title}" if title else claim


def allure_labels(claim: str, feature: str, core: bool) -> None:
    """Set epic, feature, story and severity on the running Allure test (inside a scenario)."""
    import allure

    allure.dynamic.epic(EPIC)
    allure.dynamic.feature(feature)
    allure.dynamic.story(story(claim))
    severity = allure.severity_level.CRITICAL if core else allure.severity_level.NORMAL
    allure.dynamic.severity(severity)


def attach_png(path: Path, name: str) -> None:
    """Attach a PNG file (the downtime plot) to the current Allure step or test."""
    import allure

    allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.PNG)


def _escape_property(text: str, key: bool) -> str:
    # Java .properties escaping, which Allure's readers (2 and 3) both parse.
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif ch in "=:#!" or (ch == " " and (key or i == 0)):
            out.append("\\" + ch)
        elif ord(ch) > 0x7E or ord(ch) < 0x20:
            units = ch.encode("utf-16-be")
            out.extend(f"\\u{units[j]:02x}{units[j + 1]:02x}" for j in range(0, len(units), 2))
        else:
            out.append(ch)
    return "".join(out)


def write_allure_environment(
    results_dir: Path, target: TargetIdentity, extra: Mapping[str, str]
) -> Path:
    """Write environment.properties: target, cluster, nodes (with OS builds), harness version."""
    nodes = ", ".join(
        f"{n['name']} ({n['os_build']})" if n.get("os_build") else str(n["name"])
        for n in target.nodes
    )
    props: dict[str, str] = {
        "target": target.spec,
        "target.kind": target.kind,
        "cluster": target.cluster,
        "nodes": nodes,
        "harness.version": target.harness_version,
    }
    props.update({str(k): str(v) for k, v in extra.items()})
    lines = [
        f"{_escape_property(k, True)}={_escape_property(redact(v), False)}"
        for k, v in props.items()
    ]
    path = Path(results_dir) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def write_categories(results_dir: Path) -> Path:
    """Write categories.json telling a violated claim (failed) from missing evidence (broken)."""
    path = Path(results_dir) / "categories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    return path


def _repo_root() -> Path:
    # A source checkout holds tools/allure beside the package; an installed wheel does not,
    # so fall back to the directory the user runs from (the checkout, by convention).
    if (_REPO / "tools" / "allure").is_dir():
        return _REPO
    return Path.cwd()


def _is_allure3(command: list[str]) -> bool:
    try:
        done = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip().startswith("3.")


def find_allure() -> list[str] | None:
    """Allure 3 command: $QM_ALLURE, the pinned tools/allure copy, or allure 3 on PATH."""
    configured = os.environ.get("QM_ALLURE", "").strip()
    if configured:
        return shlex.split(configured)
    local = _repo_root() / "tools" / "allure" / "node_modules" / ".bin" / "allure"
    # The local copy is a Node script: without node on PATH it cannot run.
    if local.is_file() and shutil.which("node"):
        return [str(local)]
    on_path = shutil.which("allure")
    if on_path and _is_allure3([on_path]):
        return [on_path]
    return None


def base_config() -> Path:
    """The project's Allure 3 configuration file (tools/allure/allurerc.mjs)."""
    return _repo_root() / "tools" / "allure" / "allurerc.mjs"


def write_global_attachments(results_dir: Path, files: list[tuple[Path, str]]) -> Path:
    """Attach files (PNG) to the whole report, not to one test: a `*-globals.json` results file."""
    # Allure 3's results reader takes `<uuid>-globals.json` as {attachments: [{name, source,
    # type}], errors: []}; sources are file names inside the results folder.
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    attachments = []
    for path, name in files:
        source = f"{uuid.uuid4()}-attachment{path.suffix}"
        shutil.copyfile(path, results_dir / source)
        kind = "image/png" if path.suffix.lower() == ".png" else "application/octet-stream"
        attachments.append({"name": name, "source": source, "type": kind})
    out = results_dir / f"{uuid.uuid4()}-globals.json"
    out.write_text(json.dumps({"attachments": attachments, "errors": []}, indent=2) + "\n")
    return out


def install_hint(results_dir: Path, out_dir: Path) -> str:
    """How to get the HTML report when this machine cannot render it."""
    return (
        "Allure HTML not generated: install Node.js and run `npm ci --prefix tools/allure`, "
        f"then `tools/allure/node_modules/.bin/allure generate {results_dir} -o {out_dir}`"
    )


def generate_html(
    results_dir: Path,
    out_dir: Path,
    timeout_s: float = GENERATE_TIMEOUT_S,
    config: Path | None = None,
) -> tuple[bool, str]:
    """Render the Allure 3 HTML report (offline, single file); (ok, message for the user)."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    command = find_allure()
    if command is None:
        return False, install_hint(results_dir, out_dir)
    if not results_dir.is_dir():
        return False, f"Allure HTML not generated: no results folder {results_dir}"
    args = [*command, "generate", str(results_dir.resolve()), "-o", str(out_dir.resolve())]
    config = config or base_config()
    if config.is_file():
        args += ["--config", str(config)]
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout_s, check=False, env=env
        )
    except FileNotFoundError:
        return False, install_hint(results_dir, out_dir)
    except subprocess.TimeoutExpired:
        return False, f"Allure HTML not generated: `allure generate` took over {timeout_s:g} s"
    except OSError as exc:
        return False, redact(f"Allure HTML not generated: cannot run {args[0]}: {exc}")
    index = out_dir / "index.html"
    if done.returncode != 0 or not index.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        detail = " | ".join(tail) or f"exit code {done.returncode}, no index.html"
        return False, redact(f"Allure HTML not generated: {detail}")
    return True, f"Allure HTML report: {index}"
