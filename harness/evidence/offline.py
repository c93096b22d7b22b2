"""External references in an HTML report: what a browser would fetch from another host."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

# Attributes and CSS constructs that make a browser fetch something. A bare URL in text or an
# XML namespace (xmlns="http://www.w3.org/2000/svg") fetches nothing and is not reported.
_ATTR = re.compile(
    r"""\b(?:src|href|action|formaction|poster|data|background|srcset|ping|manifest)\s*=\s*"""
    r"""["']?\s*((?:https?:|wss?:|ftp:)?//[^\s"'<>)]+)""",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"""url\(\s*["']?\s*((?:https?:)?//[^\s"')]+)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+["']((?:https?:)?//[^"']+)""", re.IGNORECASE)
_DATA_URI = re.compile(
    r"""data:(text/(?:html|css)|image/svg\+xml)(;base64)?,([^"'\s)]+)""", re.IGNORECASE
)
# The analytics block Allure 3's awesome report writes whatever ALLURE_NO_ANALYTICS says
# (allure-framework/allure3 issue 476): the loader script and the inline gtag configuration.
_GTAG_BLOCK = re.compile(
    r"""\s*<script[^>]*\bsrc="https://www\.googletagmanager\.com/gtag/js[^"]*"[^>]*>\s*</script>"""
    r"""(?:\s*<script>\s*window\.dataLayer\b.*?</script>)?""",
    re.DOTALL,
)


def _scan(text: str, found: list[str], depth: int) -> None:
    for rx in (_ATTR, _CSS_URL, _CSS_IMPORT):
        found.extend(m.group(1) for m in rx.finditer(text))
    if depth > 2:
        return
    # Inline documents (SVG icons, stylesheets) can load resources of their own.
    for match in _DATA_URI.finditer(text):
        payload = match.group(3)
        try:
            inner = (
                base64.b64decode(payload).decode("utf-8", "replace")
                if match.group(2)
                else unquote(payload)
            )
        except (binascii.Error, ValueError):
            continue
        _scan(inner, found, depth + 1)


def external_references(html: str) -> list[str]:
    """URLs on other hosts that the page's markup or styles would load (empty = offline)."""
    found: list[str] = []
    _scan(html, found, 0)
    return sorted(set(found))


def strip_allure_analytics(html: str) -> tuple[str, int]:
    """The report without Allure's Google Analytics block; and how many blocks were removed."""
    return _GTAG_BLOCK.subn("", html)
