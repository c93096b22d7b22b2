"""Windows path helpers for the lab: case-insensitive comparison, containment, joining."""

from __future__ import annotations


def norm(path: str) -> str:
    """A comparable form of a Windows path: lower case, backslashes, no trailing separator."""
    p = path.replace("/", "\\").lower()
    while len(p) > 3 and p.endswith("\\"):
        p = p[:-1]
    if len(p) == 3 and p[1:] == ":\\":
        return p[:2]
    return p


def same(a: str, b: str) -> bool:
    """Whether two Windows paths name the same place."""
    return norm(a) == norm(b)


def under(path: str, root: str) -> bool:
    """Whether `path` is `root` or lies below it."""
    p, r = norm(path), norm(root)
    return p == r or p.startswith(r + "\\")


def join(root: str, *parts: str) -> str:
    """Join Windows path parts with single backslashes."""
    out = root
    for part in parts:
        out = out if out.endswith("\\") else out + "\\"
        out += part.strip("\\")
    return out


def drive(path: str) -> str:
    """The drive root of a local path, e.g. 'D:\\'."""
    return path[:2].upper() + "\\"


def is_unc(path: str) -> bool:
    """A UNC path (server and share, or the long UNC form): reached over SMB, as the session."""
    text = path.replace("/", "\\")
    return (
        text.startswith("\\\\") and not text.startswith(("\\\\.\\", "\\\\?\\"))
    ) or text.upper().startswith("\\\\?\\UNC\\")
