"""Saved-state evidence: which saved-state files a move really wrote, judged by change.

Hyper-V keeps a VM's saved-state files while it runs (.vmrs/.vmgs for version 8.0 and later, the
.bin/.vsv pair for 5.0; docs/windows-fidelity.md), so seeing them proves nothing. A save shows as
a change against the view before the move: a file that was not there, a different Length or a
later LastWriteTimeUtc.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from harness.audit.objects import SavedFile

if TYPE_CHECKING:
    from harness.audit.cluster import MoveSample


def _key(path: str) -> str:
    return path.casefold()


def changed(before: SavedFile | None, now: SavedFile, requested: datetime | None) -> bool:
    """True when `now` shows a write since `before` (or, without a baseline, since the request)."""
    if before is None:
        if requested is None or now.last_write is None:
            return False
        return now.last_write >= requested
    if now.bytes != before.bytes:
        return True
    return (
        now.last_write is not None
        and before.last_write is not None
        and now.last_write > before.last_write
    )


def written_files(
    baseline: Sequence[SavedFile] | None,
    samples: Iterable[MoveSample],
    node: str,
    requested: datetime | None = None,
) -> list[SavedFile]:
    """Files seen on `node` during the move that changed against `baseline`, last view each.

    `baseline` is the VM's saved-state listing read before the move (None when it could not
    be read: then only files written after `requested` count).
    """
    known = None if baseline is None else {_key(f.path): f for f in baseline}
    out: dict[str, SavedFile] = {}
    for sample in samples:
        # The files and the node they were listed on come from one vm_details document.
        if not sample.viewed_on(node):
            continue
        for f in sample.saved_state:
            if known is None:
                hit = changed(None, f, requested)
            else:
                previous = known.get(_key(f.path))
                hit = previous is None or changed(previous, f, requested)
            if hit:
                out[_key(f.path)] = f
    return sorted(out.values(), key=lambda f: f.path.casefold())


def seen_files(samples: Iterable[MoveSample], node: str) -> list[str]:
    """Every saved-state file path `node` showed during the move (present, changed or not)."""
    paths = {f.path for s in samples if s.viewed_on(node) for f in s.saved_state}
    return sorted(paths, key=str.casefold)
