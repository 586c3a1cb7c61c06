"""Where a command writes, checked before anything runs.

Hydra's output folder, the checkpoints, the reports and (for a local store) the artifacts and the
sqlite file are folders under the launch directory unless given as absolute paths. A file where a
folder must be, or a folder that cannot be written, would otherwise surface as a traceback halfway
through a sweep, with runs open; here it is one line naming the key.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def unwritable(path: Path) -> str | None:
    """Why `path` cannot become a writable folder (a file on its way, or no write permission on
    the nearest folder that exists), or None."""
    probe = path
    while not probe.exists():
        if probe == probe.parent:
            return None
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:  # a real write: permission bits say nothing to root, a read-only mount or an immutable folder
        fd, name = tempfile.mkstemp(dir=probe, prefix=".ablate-write-test-")
    except OSError as exc:
        return f"cannot write in {probe} ({exc.strerror})"
    os.close(fd)
    os.unlink(name)
    return None


def check_folders(folders: list[tuple[str, str]], launch_dir: Path) -> str | None:
    """The first of [(key, folder)] (relative: to the launch directory) that cannot be written,
    as one line, or None."""
    for key, folder in folders:
        reason = unwritable((launch_dir / folder).resolve())
        if reason:
            return f"{key}={folder}: {reason}"
    return None
