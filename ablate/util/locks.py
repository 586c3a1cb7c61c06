"""Exclusive claims between processes: an advisory `flock` on a small file.

The kernel drops a flock when its process ends, however it ends (kill -9 included), so a claim is
never left stale and nothing needs cleaning up. Used for creating a sqlite store (two commands
started together must not both create its tables) and for a replicate's cell (two identical
sweeps in one directory train each replicate once: the second waits, then reuses the result).
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_WARNED: list[Path] = []


def claim(path: Path, on_wait: Callable[[], None] | None = None) -> IO | None:
    """Hold `path`'s lock until `release` (or the process's end); if another process holds it,
    call `on_wait` once and wait for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without flock (NFS nolock, Lustre noflock): go on unclaimed
        handle.close()
        if not _WARNED:
            _WARNED.append(path.parent)
            print(
                f"warning: {path.parent}: no file locks here ({exc.strerror}); concurrent copies of a "
                "sweep may train a replicate twice",
                file=sys.stderr,
                flush=True,
            )
        return None
    return handle


def release(handle: IO | None) -> None:
    if handle is not None and not handle.closed:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    handle = claim(path)
    try:
        yield
    finally:
        release(handle)
