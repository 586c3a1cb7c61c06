"""Shared fixtures: every test runs in its own launch directory with its own MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)

# tiny, fast settings for real runs on the CPU
TINY = [
    "data.limit=300",
    "trainer.epochs=2",
    "trainer.batch_size=64",
    "trainer.progress=false",
    "eval.kmeans_seeds=2",
    "eval.n_init=1",
    "trainer.snapshots=4",
]


REPO = Path(__file__).resolve().parents[1]


def unpacked_wheel(tmp_path: Path) -> tuple[set[str], Path, Path, dict[str, str]]:
    """Build ablate's wheel and unpack it as a non-editable install would, outside the repository:
    (the wheel's file names, the install folder, an empty folder elsewhere, an environment whose
    Python imports from the install)."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("ablate-*.whl")
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(target)
    elsewhere.mkdir()
    return names, target, elsewhere, {**os.environ, "PYTHONPATH": str(target)}


@pytest.fixture
def launch_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def ablate_cli(launch_dir, monkeypatch, capsys):
    """Run `python -m ablate ARGS` in-process; returns (exit code, stdout, stderr)."""
    from hydra.core.global_hydra import GlobalHydra

    from ablate.__main__ import main

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ablate", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            GlobalHydra.instance().clear()
        out = capsys.readouterr()
        return code, out.out, out.err

    return call
