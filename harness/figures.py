"""Figures as people read them: rounded numbers, plain lists and paths, no JSON escaping."""

from __future__ import annotations

import math
import re
from typing import Any

# A decimal with six or more digits after the point is float noise (0.9999999999999906,
# 10.163675999999995) unless someone wrote it that way on purpose: no measurement is that exact.
_NOISE = re.compile(r"(?<![\w.])(-?\d+\.\d{6,})(?![\w.])")


def number(value: float, digits: int = 4) -> str:
    """A float rounded to `digits` significant digits (at least 0.001 resolution), no noise."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    places = max(0, min(3, digits - 1 - magnitude))
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def plain(value: Any, depth: int = 0) -> str:
    """A value in words: strings as they are (paths keep single backslashes), lists joined by
    commas, mappings as `key: value`, None as "none", floats rounded."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, int | str):
        return str(value)
    if depth > 3:
        return "…"
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{k}: {plain(v, depth + 1)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        if not items:
            return "none"
        inner = ", ".join(plain(v, depth + 1) for v in items)
        return f"[{inner}]" if depth else inner
    return str(value)


def figures(**named: Any) -> str:
    """`name value; name value` with underscores as spaces: the figures behind a verdict."""
    return "; ".join(f"{key.replace('_', ' ')}: {plain(value)}" for key, value in named.items())


def denoise(text: str) -> str:
    """Text with float noise rounded (10.163675999999995 s -> 10.16 s)."""
    return _NOISE.sub(lambda m: number(float(m.group(1))), text)
