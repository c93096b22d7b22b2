"""Last line of defence: every registered secret masked in every file of a run folder."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from harness.redact import redact, registered_secrets

_CHUNK = 1 << 20


def _contains(path: Path, needles: list[bytes]) -> bool:
    """Whether the file holds one of the needles (streamed: bounded memory)."""
    keep = max(len(n) for n in needles)
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = tail + chunk
            if any(n in window for n in needles):
                return True
            tail = window[-keep:]
    return False


def _rewrite(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    data = redact(text).encode("utf-8", errors="surrogateescape")
    fd, tmp = tempfile.mkstemp(prefix=".qm-sweep-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_secrets(root: Path) -> list[Path]:
    """Mask every registered secret (any written form) in the regular files under root.

    Returns the files that had to be rewritten: each one is a writer that forgot to redact.
    """
    secrets = registered_secrets()
    if not secrets:
        return []
    from harness.redact import local_forms

    needles = sorted({f.encode("utf-8") for f in local_forms(set(secrets))}, key=len)
    fixed: list[Path] = []
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(dirpath) / name
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                if _contains(path, needles):
                    _rewrite(path)
                    fixed.append(path)
            except OSError:
                continue
    return fixed
