"""Hydra finds the Optuna sweeper from any directory: after `pip install -e .` and from a wheel.

Hydra's plugin scan lists the folders of the `hydra_plugins` namespace package with pkgutil; a
PEP 660 editable install maps packages through an import hook that pkgutil cannot list. These tests
run from a directory outside the repository, in fresh processes, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import pytest
from helpers.wheel import REPO, unpacked_wheel

PLUGIN = "hydra_plugins.ablate_optuna_sweeper.optuna_sweeper.AblateOptunaSweeper"


def _editable_here() -> bool:
    # the installed one's record: the checkout's own ablate.egg-info (on the path when the tests run
    # from it) is found first by metadata.distribution and has no direct_url.json
    texts = [d.read_text("direct_url.json") for d in metadata.distributions(name="ablate")]
    url = json.loads(next((t for t in texts if t), "{}"))
    return url.get("dir_info", {}).get("editable", False) and url.get("url", "").endswith(str(REPO))


@pytest.mark.slow  # a real Optuna search in a fresh Python (imports torch, Hydra, MLflow)
@pytest.mark.skipif(not _editable_here(), reason="needs `pip install -e .` of this checkout")
def test_editable_install_finds_the_plugin_outside_the_repo(tmp_path):
    env = {**os.environ, "PYTHONPATH": ""}
    info = subprocess.run(
        [sys.executable, "-m", "ablate", "--info", "plugins"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "AblateOptunaSweeper" in info.stdout

    search = [
        "-m", "hydra/sweeper=optuna", "hparams=smoke", "hydra.sweeper.n_trials=1", "hydra.sweeper.pruner=median",
        "data.limit=200", "trainer.epochs=1", "trainer.progress=false", "eval.kmeans_seeds=1", "eval.n_init=1",
        "trainer.snapshots=2", "tracking.experiment=outside",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "ablate", *search], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("report: ")
    assert len(list((tmp_path / "optuna").glob("*.db"))) == 1  # the study's own sqlite file


def test_wheel_ships_the_plugin_and_hydra_finds_it(tmp_path):
    names, target, elsewhere, env = unpacked_wheel(tmp_path)
    for name in (
        "hydra_plugins/ablate_optuna_sweeper/__init__.py",
        "hydra_plugins/ablate_optuna_sweeper/optuna_sweeper.py",
        "hydra_plugins/ablate_optuna_sweeper/_search.py",
        "ablate/conf/hparams/optim.yaml",
        "ablate/conf/hparams/smoke.yaml",
    ):
        assert name in names, name
    assert "hydra_plugins/__init__.py" not in names  # a namespace shared with every other Hydra plugin

    probe = (
        "import hydra_plugins.ablate_optuna_sweeper as p; from hydra.core.plugins import Plugins; "
        f"print(p.__file__); print({PLUGIN!r} in Plugins.instance().class_name_to_class)"
    )
    shown = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    where, found = shown.stdout.split()
    assert where.startswith(str(target)) and found == "True"
    cfg = subprocess.run(
        [
            sys.executable,
            "-m",
            "ablate",
            "hydra/sweeper=optuna",
            "hparams=optim",
            "--cfg",
            "hydra",
            "-p",
            "hydra.sweeper",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cfg.returncode == 0, cfg.stderr
    assert "AblateOptunaSweeper" in cfg.stdout and "batch_size:" in cfg.stdout
