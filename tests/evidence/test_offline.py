"""No network from reports: the scan for external references and a headless Chromium load."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from harness.evidence.allure import find_allure, generate_html
from harness.evidence.offline import external_references, strip_allure_analytics
from tests.evidence.browser import find_chromium, load_offline

# The block Allure 3.18's awesome report writes (plugin-awesome/dist/generators.js).
GTAG = """
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"></script>
    <script>
        window.dataLayer = window.dataLayer || [];
        function gtag(){dataLayer.push(arguments);}
        gtag('js', new Date());
        gtag('config', 'G-LNDJ3J7WT0', {"report": "awesome"});
    </script>
"""


def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    return found


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<img src="https://cdn.example/x.png">', ["https://cdn.example/x.png"]),
        ("<script src='//cdn.example/a.js'></script>", ["//cdn.example/a.js"]),
        (
            '<link href="http://fonts.example/f.css" rel="stylesheet">',
            ["http://fonts.example/f.css"],
        ),
        (
            "<style>body{background:url(https://img.example/b.png)}</style>",
            ["https://img.example/b.png"],
        ),
        ('<style>@import "https://css.example/a.css";</style>', ["https://css.example/a.css"]),
        (
            "<img src=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E"
            "%3Cimage href='https://svg.example/i.png'/%3E%3C/svg%3E\">",
            ["https://svg.example/i.png"],
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"></svg><p>see https://example.org</p>', []),
        ('<a href="#top">top</a><img src="data:image/png;base64,AAAA">', []),
    ],
)
def test_scan(html: str, found: list[str]) -> None:
    assert external_references(html) == found


def test_allure_analytics_block_removed() -> None:
    html = f"<html><head></head><body><div id='app'></div>{GTAG}<script>ok()</script></body></html>"
    assert external_references(html) == ["https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"]
    stripped, removed = strip_allure_analytics(html)
    assert removed == 1 and external_references(stripped) == []
    assert "gtag" not in stripped and "dataLayer" not in stripped and "ok()" in stripped


def test_browser_recorder_sees_requests(tmp_path: Path) -> None:
    # The control case: a page that does reach out is caught, so an empty list means something.
    page = tmp_path / "leaky.html"
    page.write_text(
        '<p id="p">x</p><img src="https://pixel.example/p.png">'
        "<script>fetch('https://tracker.example/t');"
        "document.getElementById('p').textContent = 'ran';</script>",
        encoding="utf-8",
    )
    dom, requests = load_offline(chromium(), page)
    assert ">ran<" in dom
    assert "https://pixel.example/p.png" in requests
    assert "https://tracker.example/t" in requests


def _allure_results(folder: Path) -> Path:
    folder.mkdir()
    for status in ("passed", "failed"):
        result = {
            "uuid": str(uuid.uuid4()),
            "name": f"scenario that {status}",
            "fullName": f"features.{status}",
            "status": status,
            "statusDetails": {"message": "AssertionError: x"} if status == "failed" else {},
            "start": 1764500000000,
            "stop": 1764500001000,
            "labels": [{"name": "story", "value": "QM-03 Single link location"}],
        }
        (folder / f"{result['uuid']}-result.json").write_text(json.dumps(result), "utf-8")
    return folder


def test_allure_report_makes_no_request(tmp_path: Path) -> None:
    if find_allure() is None:
        pytest.skip("Allure 3 not installed (npm ci --prefix tools/allure); CI installs it")
    ok, message = generate_html(_allure_results(tmp_path / "results"), tmp_path / "report")
    assert ok, message
    index = tmp_path / "report" / "index.html"
    html = index.read_text(encoding="utf-8")
    assert external_references(html) == [] and "googletagmanager" not in html
    ready = r"/Total\s*2\b/.test(document.body ? document.body.innerText : '')"
    dom, requests = load_offline(chromium(), index, ready_js=ready)
    assert requests == []
    # The single-file report rendered from its inline data: the two results are counted.
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom[dom.find("<body") :], flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    assert re.search(r"Total 2\b", text), text[:600]
