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
from typing import Any

from harness.atomic import atomic_write
from harness.domain.claims import CLAIM_TITLES
from harness.domain.identity import TargetIdentity
from harness.evidence.offline import external_references, strip_allure_analytics
from harness.redact import redact

EPIC = "Hyper-V Quick Migration"
# Same rules as harness/evidence/allurerc.mjs (the Allure 3 awesome report reads those; this file
# serves the Allure 2 / classic readers of the results folder).
CATEGORIES: list[dict[str, object]] = [
    {
        # First, so a waived failure is not also counted as an unwaived violation
        # (harness/evidence/waivers.py prefixes its message with WAIVED).
        "name": "Waived: approved exception",
        "description": "The claim failed; an approved, unexpired waiver covers it. Not a pass.",
        "matchedStatuses": ["failed"],
        "messageRegex": "(?s)WAIVED.*",
    },
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


def allure_labels(claim: str, feature: str, core: bool, checked: str = "move") -> None:
    """Set epic, feature, story, severity and how the claim is checked (a tag: "checked by
    move", "checked by passive" or "checked by history") on the running Allure test."""
    import allure

    allure.dynamic.tag(f"checked by {checked}")
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
    """Allure 3 command: $QM_ALLURE, the pinned tools/allure copy, allure 3 on PATH, or the
    pinned copy a wheel install keeps in the user's cache (see user_allure)."""
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
    cached = _cached_bin(allure_cache_dir())
    if cached is not None and shutil.which("node"):
        return [str(cached)]
    return None


ALLURE_TOOL = Path(__file__).resolve().parent / "allure_tool"  # package.json + lock, in the wheel
NPM_TIMEOUT_S = 600.0


def allure_cache_dir() -> Path:
    """Where a wheel install keeps its pinned Allure 3 tool: $QM_CACHE_DIR, else the user's
    cache folder (%LOCALAPPDATA% on Windows, $XDG_CACHE_HOME or ~/.cache elsewhere)."""
    base = os.environ.get("QM_CACHE_DIR", "").strip()
    if base:
        root = Path(base)
    elif os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        root = Path(os.environ["LOCALAPPDATA"]) / "qmaudit"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qmaudit"
    return root / f"allure-{ALLURE_VERSION}"


def _cached_bin(folder: Path) -> Path | None:
    for name in ("allure.cmd", "allure") if os.name == "nt" else ("allure",):
        found = folder / "node_modules" / ".bin" / name
        if found.is_file():
            return found
    return None


def user_allure(say: Any = print) -> tuple[list[str] | None, str]:
    """The pinned Allure 3 tool in the user's cache, installed there with `npm ci` on first use
    (the package carries package.json and its lock file). (command or None, why not)."""
    folder = allure_cache_dir()
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = "Node.js (node and npm)" if node is None else "npm"
        return None, f"{missing} not found on PATH"
    cached = _cached_bin(folder)
    if cached is not None:
        return [str(cached)], ""
    if not (ALLURE_TOOL / "package-lock.json").is_file():
        return None, f"the pinned Allure tool files are missing from {ALLURE_TOOL}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(ALLURE_TOOL / name, folder / name)
    except OSError as exc:
        return None, f"cannot write {folder}: {exc.strerror or exc}"
    say(f"qmaudit: installing the pinned Allure {ALLURE_VERSION} report tool into {folder} (once)")
    args = [npm, "ci", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent"]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"`npm ci` into {folder} took over {NPM_TIMEOUT_S:g} s"
    except OSError as exc:
        return None, f"cannot run npm: {exc}"
    cached = _cached_bin(folder)
    if done.returncode != 0 or cached is None:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, redact(f"`npm ci` into {folder} failed: {tail or done.returncode}")
    return [str(cached)], ""


ALLURE_CONFIG = Path(__file__).resolve().parent / "allurerc.mjs"
# The Allure 3 release tools/allure/package-lock.json pins, for installs outside a checkout.
ALLURE_VERSION = "3.18.0"


def base_config() -> Path:
    """The project's Allure 3 configuration file (shipped inside the package)."""
    return ALLURE_CONFIG


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


def install_hint(results_dir: Path, out_dir: Path, why: str = "") -> str:
    """How to get the HTML report when this machine cannot render it."""
    if why:
        # An installed package: it tried its pinned tool in the user's cache and says why not.
        return (
            f"Allure HTML not generated: {why}. With Node.js 18+ (node and npm) on PATH, the next "
            f"run installs the pinned Allure {ALLURE_VERSION} into {allure_cache_dir()}; or render "
            f"these results later: `allure generate {results_dir} -o {out_dir} "
            f"--config {ALLURE_CONFIG}` (Allure 3; or set QM_ALLURE to its command)"
        )
    if (_REPO / "tools" / "allure" / "package.json").is_file():
        return (
            "Allure HTML not generated: install Node.js and run `npm ci --prefix tools/allure`, "
            f"then `tools/allure/node_modules/.bin/allure generate {results_dir} -o {out_dir}`"
        )
    # An installed package has no tools/allure: say how to get the tool and where the config is.
    return (
        f"Allure HTML not generated: Allure 3 was not found (install Node.js, then "
        f"`npm install -g allure@{ALLURE_VERSION}`, or set QM_ALLURE to the command); then "
        f"`allure generate {results_dir} -o {out_dir} --config {ALLURE_CONFIG}`"
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
    if command is None and not (_REPO / "tools" / "allure" / "package.json").is_file():
        command, why = user_allure()  # an installed package: its pinned tool, once
        if command is None:
            return False, install_hint(results_dir, out_dir, why)
    if command is None:
        return False, install_hint(results_dir, out_dir)
    if not results_dir.is_dir():
        return False, f"Allure HTML not generated: no results folder {results_dir}"
    args = [*command, "generate", str(results_dir.resolve()), "-o", str(out_dir.resolve())]
    config = config or base_config()
    if config.is_file():
        args += ["--config", str(config)]
    # A report an auditor opens offline must not contact an analytics service. Allure honours
    # ALLURE_NO_ANALYTICS where it can; the awesome report of Allure 3.18 ignores it, so the
    # block is also removed from the rendered file below.
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "ALLURE_NO_ANALYTICS": "true"}
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
    return _make_offline(index)


# The awesome report focuses the first test of its tree when it opens and scrolls its tree's
# container (data-tree-scroll-container) to it: the page opened scrolled past its header. Until
# the reader clicks, types or scrolls, those scrolls are not made (focus without scrolling,
# scrollIntoView and the container's scrollTop ignored); after that the report is as Allure
# wrote it.
OPEN_AT_HEADER = (
    "<script>(function(){var u=false,f=HTMLElement.prototype.focus,"
    "s=Element.prototype.scrollIntoView;function on(){u=true}"
    "['pointerdown','keydown','wheel','touchstart'].forEach(function(t){"
    "addEventListener(t,on,{capture:true,once:true})});"
    "HTMLElement.prototype.focus=function(o){return f.call(this,u?o:{preventScroll:true})};"
    "Element.prototype.scrollIntoView=function(){if(u)return s.apply(this,arguments)};"
    "var d=Object.getOwnPropertyDescriptor(Element.prototype,'scrollTop');"
    "Object.defineProperty(Element.prototype,'scrollTop',{configurable:true,get:d.get,"
    "set:function(v){if(u||!this.closest('[data-tree-scroll-container]'))d.set.call(this,v)}});"
    "})();</script>"
)


def open_at_header(html: str) -> str:
    """The report with OPEN_AT_HEADER as the first script of its head (once)."""
    if OPEN_AT_HEADER in html or "<head>" not in html:
        return html
    return html.replace("<head>", "<head>" + OPEN_AT_HEADER, 1)


def _make_offline(index: Path) -> tuple[bool, str]:
    html, _removed = strip_allure_analytics(index.read_text(encoding="utf-8"))
    html = open_at_header(html)
    atomic_write(index, html.encode("utf-8"))
    external = external_references(html)
    if external:
        return False, f"Allure HTML report {index} references other hosts: {', '.join(external)}"
    return True, f"Allure HTML report: {index}"


PLAIN_PARAMETER_TYPES = (str, int, float, bool)


def keep_plain_step_parameters(config: Any, step: Any, step_func_args: dict[str, Any]) -> None:
    """Drop step parameters that are objects (fixtures such as the scenario state).

    allure-pytest-bdd records the repr of every argument of a step function, fixtures included;
    a reader needs the step's own values (a storage kind, a state, a count), not internal
    objects, whose reprs also carried the run's state into every step.
    """
    from allure_pytest_bdd.pytest_bdd_listener import PytestBDDListener
    from allure_pytest_bdd.steps import get_step_uuid

    plugins = [plugin for _name, plugin in config.pluginmanager.list_name_plugin()]
    listener = next((p for p in plugins if isinstance(p, PytestBDDListener)), None)
    if listener is None:
        return
    plain = {k for k, v in step_func_args.items() if isinstance(v, PLAIN_PARAMETER_TYPES)}
    with listener.lifecycle.update_step(uuid=get_step_uuid(step)) as result:
        if result is not None:
            result.parameters = [p for p in result.parameters if p.name in plain]
