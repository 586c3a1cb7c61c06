"""Build and unpack ablate's wheel, as a non-editable install (wheel, Docker image, cluster node) has it."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from tools.wheelhouse import ablate_wheel

REPO = Path(__file__).resolve().parents[2]


def unpacked_wheel(tmp_path: Path) -> tuple[set[str], Path, Path, dict[str, str]]:
    """Build ablate's wheel and unpack it as a non-editable install would, outside the repository:
    (the wheel's file names, the install folder, an empty folder elsewhere, an environment whose
    Python imports from the install)."""
    wheel = ablate_wheel(tmp_path / "dist")
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(target)
    elsewhere.mkdir()
    return names, target, elsewhere, {**os.environ, "PYTHONPATH": str(target)}
