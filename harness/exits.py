"""The exit codes of qmaudit: what a run found, in one number and the same words."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from enum import IntEnum


class Exit(IntEnum):
    """What happened, as the process exit code (docs/exit-codes.md)."""

    HOLDS = 0  # every claim checked holds (or its failure is waived)
    VIOLATED = 1  # a claim was violated (FAILED): positive evidence against it
    BAD_INPUT = 2  # bad input: nothing was done (unknown target, invalid file, budget refused)
    NOT_JUDGED = 3  # nothing violated, but some claims could not be judged (BROKEN)
    NOT_AS_FOUND = 4  # the cluster was not left as found: run `qmaudit recover`


WORDS: dict[Exit, str] = {
    Exit.HOLDS: "every claim checked holds",
    Exit.VIOLATED: "a claim was violated",
    Exit.BAD_INPUT: "bad input",
    Exit.NOT_JUDGED: "nothing was violated but some claims could not be judged",
    Exit.NOT_AS_FOUND: "the cluster was not left as found",
}

# Several runs at once (several --target) end with the most urgent code: a cluster not as
# found first, then a violation, bad input, a claim not judged; a signal (128+n) outranks all.
_CODES = {int(c) for c in Exit}
_RANK = {
    Exit.HOLDS: 0,
    Exit.NOT_JUDGED: 1,
    Exit.BAD_INPUT: 2,
    Exit.VIOLATED: 3,
    Exit.NOT_AS_FOUND: 4,
}


def worst_exit(codes: list[int] | tuple[int, ...]) -> int:
    """The most urgent of several exit codes (0 for none); unknown codes (signals) rank first."""
    return max(codes, key=lambda c: _RANK.get(Exit(c), 5) if c in _CODES else 5, default=0)


def last_line(code: Exit, detail: str = "") -> str:
    """The run's last output line: the exit code and the same words as its documentation."""
    more = f" ({detail})" if detail else ""
    return f"qmaudit: exit {int(code)}: {WORDS[code]}{more}"


def command_name() -> str:
    """How to invoke qmaudit so that a printed hint works as printed from where the user is.

    `qmaudit` when that name on PATH is this very program; else the path the user typed (a
    venv's `.venv/bin/qmaudit`); else this interpreter with `-m harness.cli`.
    """
    argv0 = sys.argv[0] if sys.argv else ""
    base = os.path.basename(argv0)
    if base in ("qmaudit", "qmaudit.exe", "qmaudit-script.py"):
        found = shutil.which("qmaudit")
        if found and os.path.realpath(found) == os.path.realpath(shutil.which(argv0) or argv0):
            return "qmaudit"
        if os.path.exists(argv0):
            return shlex.quote(argv0) if os.name != "nt" else argv0
    exe = sys.executable or "python3"
    return f"{shlex.quote(exe) if os.name != 'nt' else exe} -m harness.cli"
