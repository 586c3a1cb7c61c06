"""Exclusive file locks between processes: an advisory `flock` on a small file.

The kernel drops a flock when its process ends, however it ends (kill -9 included), so a lock is
never left stale and nothing needs cleaning up. Used for creating a sqlite store (two commands
started together must not both create its tables) and for a replicate (two identical sweeps in
one directory train each replicate once: the second waits, then reuses the result).
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_WARNED: list[Path] = []


@dataclass
class Lock:
    """A lock this process holds on `path` until `release` (or its end)."""

    path: Path
    handle: IO


def acquire(path: Path, on_wait: Callable[[], None] | None = None) -> Lock | None:
    """Lock `path`; if another process holds it, call `on_wait` once and wait for it. None on a
    file system without file locks (a warning, once): the caller goes on unlocked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without flock (NFS nolock, Lustre noflock): go on unlocked
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
    return Lock(path, handle)


def release(lock: Lock | None) -> None:
    """Let go of `lock` (None, or one released already: nothing to do)."""
    if lock is not None and not lock.handle.closed:
        fcntl.flock(lock.handle, fcntl.LOCK_UN)
        lock.handle.close()


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    lock = acquire(path)
    try:
        yield
    finally:
        release(lock)
