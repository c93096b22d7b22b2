"""A capture folder: capture.json (the index), inventory.json and one file per probe call."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import __version__
from harness.boundedfile import read_bounded
from harness.capture.collect import Call, CaptureResult
from harness.capture.pseudonym import Pseudonymiser
from harness.errors import HarnessError, InputError
from harness.probes.protocol import probe_kind
from harness.redact import redact
from harness.schemas import validate_document
from harness.targets.registry import first_match

FORMAT = "qmaudit-capture/1"
INDEX = "capture.json"
INVENTORY = "inventory.json"
CALLS = "calls"
ABOUT = (
    "qmaudit capture: the raw answer (stdout, decoded stderr, exit code) of every read-only "
    "probe on every node of the inventory, with the schema-validated document or the schema "
    "error (JSON path and reason). Passwords are never stored. Attach the whole folder to a "
    "bug report; re-check it offline with: qmaudit check-inventory --target replay:<this folder>"
)
_UNC = re.compile(r"^\\\\([^\\/]+)[\\/]")
_IP = re.compile(r"^[0-9.]+$|:")


@dataclass(frozen=True)
class Capture:
    """A capture folder read back: its index, its inventory document and its calls."""

    folder: Path
    index: dict[str, Any]
    inventory: dict[str, Any]
    calls: list[dict[str, Any]]


def _unc_hosts(values: list[str]) -> list[str]:
    return [m.group(1) for v in values if (m := _UNC.match(v))]


def _names(result: CaptureResult, pseudonymiser: Pseudonymiser) -> None:
    """Every host, node, cluster and VM name the capture saw, in a stable order."""
    inv = result.inventory
    docs: list[dict[str, Any]] = [c.document for c in result.calls if c.document is not None]
    clusters = [inv.cluster] + [str(d["cluster"]["name"]) for d in docs if "cluster" in d]
    clusters += [str(d["cluster_name"]) for d in docs if d.get("cluster_name")]
    pseudonymiser.add("cluster", clusters)
    nodes = [n.name for n in inv.nodes] + [str(d.get("node", "")) for d in docs]
    for d in docs:
        nodes += [str(n["name"]) for n in d.get("nodes") or [] if isinstance(n, dict)]
    nodes.append(inv.non_member_host or "")
    pseudonymiser.add("node", nodes)
    vms: list[str] = []
    for d in docs:
        for group in d.get("vm_groups") or []:
            vms += [str(group.get("vm_name", "")), str(group.get("name", ""))]
    for c in result.calls:
        vms += [str(n) for n in c.params.get("vm_names") or []]
        if c.params.get("vm_name"):
            vms.append(str(c.params["vm_name"]))
    ordered: list[str] = sorted(set(vms), key=str.casefold)
    pseudonymiser.add("vm", ordered)
    hosts = [n.host for n in inv.nodes if not _IP.search(n.host)]
    paths = [t.root for t in inv.throughputs]
    for d in docs:
        vm = d.get("vm")
        if not isinstance(vm, dict):
            continue
        paths += [str(vm.get(k) or "") for k in ("path", "configuration_location")]
    hosts += _unc_hosts(paths)
    pseudonymiser.add("host", hosts)
    pseudonymiser.add("domain", [h.split(".", 1)[1] for h in hosts if "." in h])


def _vm_lists(result: CaptureResult, p: Pseudonymiser) -> dict[str, list[str]]:
    """vms.allow / vms.never as pseudonyms of the VMs each pattern matched (same decisions)."""
    groups = (result.cluster_doc or {}).get("vm_groups") or []
    names = [str(g["vm_name"]) for g in groups]
    out: dict[str, list[str]] = {}
    for key, patterns in (
        ("allow", result.inventory.policy.allow),
        ("never", result.inventory.policy.never),
    ):
        listed: list[str] = []
        for index, pattern in enumerate(patterns):
            hits = [p.name(n) for n in names if first_match(n, [pattern])]
            # A pattern that matched nothing stays a pattern that matches nothing.
            listed += hits or [f"unmatched-pattern-{key}-{index + 1}"]
        out[key] = listed
    return out


def _call_record(call: Call, p: Pseudonymiser | None) -> dict[str, Any]:
    text = (lambda s: s) if p is None else p.text
    value = (lambda v: v) if p is None else p.value
    record = {
        "probe": call.probe,
        "kind": probe_kind(call.probe),
        "node": text(call.node),
        "params": value(call.params),
        "started_utc": call.started_utc,
        "duration_s": call.duration_s,
        "outcome": call.outcome,
        "exit_code": call.exit_code,
        "stdout": None if call.stdout is None else text(call.stdout),
        "stderr": None if call.stderr is None else text(call.stderr),
        "document": value(call.document),
        "schema_error": value(call.schema_error),
        "error": None if call.error is None else text(redact(call.error)),
    }
    return record


def _file_name(number: int, probe: str, node: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", node).strip("_") or "node"
    return f"{CALLS}/{number:04d}-{probe}-{safe}.json"


def build_files(result: CaptureResult, *, pseudonymise: bool) -> dict[str, dict[str, Any]]:
    """The capture's files (relative path -> JSON document), pseudonymised if asked."""
    p: Pseudonymiser | None = None
    if pseudonymise:
        p = Pseudonymiser()
        _names(result, p)
    inventory = json.loads(json.dumps(result.inventory.raw))
    if p is not None:
        inventory["vms"] = _vm_lists(result, p)
        inventory = p.value(inventory)
    files: dict[str, dict[str, Any]] = {INVENTORY: inventory}
    entries = []
    for number, call in enumerate(result.calls, start=1):
        record = _call_record(call, p)
        name = _file_name(number, call.probe, record["node"])
        files[name] = record
        entries.append(
            {
                "file": name,
                **{k: record[k] for k in ("probe", "node", "params", "outcome", "exit_code")},
                "error": record["error"],
                "schema_error": record["schema_error"],
            }
        )
    name_of = (lambda s: s) if p is None else p.name
    files[INDEX] = {
        "format": FORMAT,
        "about": ABOUT,
        "harness_version": __version__,
        "started_utc": result.started_utc,
        "finished_utc": result.finished_utc,
        "cluster": name_of(result.inventory.cluster),
        "pseudonymised": pseudonymise,
        "inventory": INVENTORY,
        "nodes": [
            {"name": name_of(node), "status": p.text(status) if p else status}
            for node, status in result.nodes.items()
        ],
        "summary": dict(sorted(Counter(c.outcome for c in result.calls).items())),
        "calls": entries,
        "notes": [p.text(n) if p else n for n in result.notes],
    }
    if p is not None:
        _check_no_leak(files, p)
    return files


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_no_leak(files: dict[str, dict[str, Any]], p: Pseudonymiser) -> None:
    """Refuse to write a pseudonymised capture in which an original name survived."""
    for name, doc in files.items():
        texts = _strings(doc)
        for record_text in (doc.get("stdout"), doc.get("stderr")):
            if isinstance(record_text, str):
                with contextlib.suppress(ValueError):
                    texts += _strings(json.loads(record_text.lstrip("\ufeff")))
        for text in texts:
            if p.text(text) != text:
                raise HarnessError(
                    f"pseudonymisation left a name in {name}; the capture was not written"
                )


def write_capture(result: CaptureResult, out: Path, *, pseudonymise: bool) -> Path:
    """Write the capture folder atomically (a temporary folder renamed at the end)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("--out", str(out), "exists and is not an empty folder")
    files = build_files(result, pseudonymise=pseudonymise)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (staging / CALLS).mkdir()
        for name, doc in files.items():
            text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
            (staging / name).write_text(redact(text), encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


MAX_CAPTURE_FILE = 256 << 20  # one capture file (a week of probe output is tens of MB)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_bounded(path, MAX_CAPTURE_FILE, what="capture file").decode("utf-8"))
    except RecursionError:
        raise InputError(str(path), "", "not JSON: nested too deeply") from None
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "", f"not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InputError(str(path), where, f"not JSON: {exc.msg}") from None


def load_capture(folder: str | Path) -> Capture:
    """Read a capture folder back (InputError naming the file, JSON path and reason)."""
    root = Path(folder)
    index_path = root / INDEX
    if not index_path.is_file():
        raise InputError(str(root), "", f"not a qmaudit capture: no {INDEX} in it")
    index = _read_json(index_path)
    validate_document("capture", index, str(index_path))
    inventory_path = root / str(index["inventory"])
    inventory = _read_json(inventory_path)
    if not isinstance(inventory, dict):
        raise InputError(str(inventory_path), "$", "the inventory must be a mapping")
    calls = []
    for number, entry in enumerate(index["calls"]):
        rel = str(entry["file"])
        path = (root / rel).resolve()
        if root.resolve() not in path.parents or not path.is_file():
            raise InputError(str(index_path), f"$.calls[{number}].file", f"no file {rel!r}")
        record = _read_json(path)
        validate_document("capture_call", record, str(path))
        calls.append(record)
    return Capture(root, index, inventory, calls)
