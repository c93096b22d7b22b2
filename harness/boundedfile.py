"""Bounded reading of a file a user names: a size limit, special files refused, one clear error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from harness.errors import InputError


def read_bounded(
    path: str | Path, limit: int, *, what: str = "file", regular_only: bool = True
) -> bytes:
    """The bytes of `path`, at most `limit`; InputError (naming the file) for anything else.

    A FIFO, a device (/dev/zero), a directory or a socket is refused before reading when
    `regular_only`; otherwise (a `<(...)` pipe) at most limit + 1 bytes are read, so a size that
    lies or grows costs nothing more.
    """
    source = str(path)
    try:
        # Non-blocking open: a FIFO without a writer must not hang the check.
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(source, "", f"{what} not found") from None
    except OSError as exc:
        raise InputError(source, "", f"cannot read the {what}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(source, "", f"cannot read the {what}: it is a directory")
        if regular_only and not stat.S_ISREG(info.st_mode):
            raise InputError(source, "", f"not a regular file (a device, pipe or socket): {what}")
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise InputError(source, "", f"{what} larger than the limit of {limit} bytes")
        if not stat.S_ISREG(info.st_mode) and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(source, "", f"{what} larger than the limit of {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(source, "", f"cannot read the {what}: {exc.strerror}") from None
    finally:
        os.close(fd)
