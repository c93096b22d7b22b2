"""One command-line grammar: --target everywhere, every option with help, defaults shown."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.exits import command_name

ROOT = Path(__file__).resolve().parents[2]


def _parsers(parser: argparse.ArgumentParser, path: str = "qmaudit"):  # type: ignore[no-untyped-def]
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_has_help_and_shows_its_default() -> None:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{path} {action.option_strings or action.dest}: no help"
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                    continue
                shown = str(action.default) in text or f"default {action.default:g}" in text
                assert shown, f"{path} {action.option_strings}: default not shown"


def test_every_command_that_takes_a_target_takes_target() -> None:
    for name in ("run", "plan", "capture", "check-inventory"):
        (parser,) = [p for path, p in _parsers(build_parser()) if path == f"qmaudit {name}"]
        assert any("--target" in a.option_strings for a in parser._actions), name


def test_m_help_lists_the_tags() -> None:
    for name in ("run", "plan"):
        (parser,) = [p for path, p in _parsers(build_parser()) if path == f"qmaudit {name}"]
        text = " ".join(parser.format_help().split())
        for tag in ("core", "disruptive", "own-move", "QM-01..QM-22"):
            assert tag in text, (name, tag)


def test_check_inventory_positional_is_deprecated_not_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "prod.yaml")
    assert main(["check-inventory", "--target", missing]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["check-inventory", missing]) == 2
    err = capsys.readouterr().err
    assert f"deprecated; use --target {missing}" in err and "file not found" in err
    assert main(["check-inventory"]) == 2
    assert "an inventory file is required" in capsys.readouterr().err


def test_plan_takes_the_budget_flags_of_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["plan", "--target", "lab+sim", "-m", "QM-13", "--reports", str(tmp_path)]
    assert main([*args, "--max-moves", "0"]) == 2
    out = capsys.readouterr().out
    assert "over budget" in out and "would be refused (exit 2)" in out
    assert main([*args, "--max-moves", "100", "--max-downtime-per-vm", "86400"]) == 0
    assert "within budget" in capsys.readouterr().out


def test_hint_command_works_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*shlex.split(command_name()), "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("qmaudit "), done.stderr
    # Run as the venv's console script from elsewhere, outside PATH: the path as typed.
    script = Path(sys.executable).parent / "qmaudit"
    if script.is_file():
        monkeypatch.setattr(sys, "argv", [str(script)])
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        assert command_name() == shlex.quote(str(script))
        monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
        assert command_name() == "qmaudit"
