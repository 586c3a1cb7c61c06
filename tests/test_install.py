"""A non-editable install (wheel, Docker image, cluster node) finds conf/ and sweeps/."""

from __future__ import annotations

import subprocess
import sys

from helpers.wheel import unpacked_wheel


def test_wheel_ships_configs_and_sweeps_and_hydra_finds_them(tmp_path):
    names, target, elsewhere, env = unpacked_wheel(tmp_path)
    for name in (
        "ablate/conf/config.yaml",
        "ablate/conf/model/stl.yaml",
        "ablate/conf/data/mnist5k.yaml",
        "ablate/sweeps/article_purity.yaml",
        "ablate/job/run.py",
    ):
        assert name in names, name

    probe = subprocess.run(
        [sys.executable, "-c", "import ablate; print(ablate.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(target))
    shown = subprocess.run(
        [sys.executable, "-m", "ablate", "sweep=article_purity", "--cfg", "job"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "channels:" in shown.stdout and "experiment: article_purity" in shown.stdout
