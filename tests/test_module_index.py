"""docs/modules.md lists every module with its one-line docstring, and is up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _index() -> object:
    spec = importlib.util.spec_from_file_location("module_index", ROOT / "scripts/module_index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_module_page_is_up_to_date() -> None:
    index = _index()
    expected = index.render()  # type: ignore[attr-defined]
    actual = (ROOT / "docs/modules.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/modules.md is stale: run `python scripts/module_index.py`"


def test_every_module_has_a_one_line_docstring() -> None:
    index = _index()
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in [*(ROOT / "harness").rglob("*.py"), *(ROOT / "steps").glob("*.py")]
        if "__pycache__" not in p.parts
        and p.stat().st_size > 0
        and index.docstring_line(p) == "(no docstring)"  # type: ignore[attr-defined]
    ]
    assert not missing, missing
