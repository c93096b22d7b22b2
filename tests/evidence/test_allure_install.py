"""A wheel install renders the HTML report: the pinned Allure tool installed into the user's
cache on first use where Node.js is, an accurate message where it is not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness.evidence import allure

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_carries_the_pinned_tool_files() -> None:
    for name in ("package.json", "package-lock.json"):
        shipped = (allure.ALLURE_TOOL / name).read_bytes()
        assert shipped == (ROOT / "tools" / "allure" / name).read_bytes()
    assert (
        f'"allure": "{allure.ALLURE_VERSION}"' in (allure.ALLURE_TOOL / "package.json").read_text()
    )


def _fake_bin(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def no_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """As installed from a wheel: no tools/allure beside the package, an empty cache."""
    monkeypatch.setattr(allure, "_REPO", tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QM_ALLURE", raising=False)
    return tmp_path


def test_without_node_the_message_says_so(
    no_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = no_checkout / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    (no_checkout / "results").mkdir()
    ok, message = allure.generate_html(no_checkout / "results", no_checkout / "report")
    assert not ok
    assert "Node.js (node and npm) not found on PATH" in message
    assert str(allure.allure_cache_dir()) in message and "allure generate" in message


def test_with_node_the_tool_is_installed_once_into_the_cache(
    no_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = no_checkout / "bin"
    bin_dir.mkdir()
    calls = no_checkout / "npm-calls"
    _fake_bin(bin_dir, "node", "exit 0\n")
    # npm ci --prefix DIR ...: checks the lock file was copied, then "installs" allure.
    _fake_bin(
        bin_dir,
        "npm",
        f'echo "$@" >> {calls}\n'
        'test -f "$3/package-lock.json" || exit 3\n'
        'mkdir -p "$3/node_modules/.bin"\n'
        'printf "#!/bin/sh\\necho 3.18.0\\n" > "$3/node_modules/.bin/allure"\n'
        'chmod +x "$3/node_modules/.bin/allure"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    said: list[str] = []
    command, why = allure.user_allure(said.append)
    expected = allure.allure_cache_dir() / "node_modules" / ".bin" / "allure"
    assert (command, why) == ([str(expected)], "")
    assert said and "installing the pinned Allure 3.18.0" in said[0]
    assert allure.find_allure() == [str(expected)]
    assert allure.user_allure(said.append)[0] == [str(expected)]
    assert calls.read_text().count("ci --prefix") == 1  # once


def test_a_failing_npm_is_reported(no_checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = no_checkout / "bin"
    bin_dir.mkdir()
    _fake_bin(bin_dir, "node", "exit 0\n")
    _fake_bin(bin_dir, "npm", "echo 'npm ERR! network unreachable' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    (no_checkout / "results").mkdir()
    ok, message = allure.generate_html(no_checkout / "results", no_checkout / "report")
    assert not ok and "`npm ci` into" in message and "network unreachable" in message
