"""The real thing: `python -m ablate -m model.skip=true,false model.bottleneck=true,false ...` in a
scratch launch folder, timed from outside, with the per-job numbers read back from its MLflow store.

Overhead per job: a 1-epoch sweep with `eval.latent=false` (no k-means in the jobs nor for the
raw-pixel baseline), (wall time - every job's loop_seconds and eval_seconds) / jobs. What is left is the Python
start and imports, config checks, data loading, MLflow, artifacts, figures, the final latent pass
and the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT

GRID = ["-m", "model.skip=true,false", "model.bottleneck=true,false"]
QUIET = ["trainer.progress=false", "tracking.experiment=bench", "hydra/job_logging=disabled", "replicates=1"]


def run_sweep(overrides: list[str], inductor_cache: str, timeout: float = 1200) -> dict:
    launch = Path(tempfile.mkdtemp(prefix="ablate-bench-sweep-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k != "MLFLOW_TRACKING_URI"}
    env.update({"TORCHINDUCTOR_CACHE_DIR": inductor_cache, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(ROOT)})
    command = [sys.executable, "-m", "ablate", *GRID, *QUIET, *overrides]
    tic = time.perf_counter()
    proc = subprocess.run(command, cwd=launch, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed: {' '.join(command)}\n{proc.stderr[-3000:]}")
    return {"command": "python -m ablate " + " ".join(GRID + overrides), "wall": wall, **_read_back(launch)}


def _read_back(launch: Path) -> dict:
    from ablate.tracking.store import Tracker

    tracker = Tracker(f"sqlite:///{launch / 'mlflow.db'}")
    experiment = tracker.experiment_id("bench")
    if experiment is None:
        raise RuntimeError(f"no experiment 'bench' in {launch / 'mlflow.db'}")
    jobs = []
    for sweep in tracker.sweeps(experiment):
        for run in tracker.children(experiment, sweep["run_id"]):
            params, metrics = run["params"], run["metrics"]
            jobs.append(
                {
                    "arm": f"skip={params['model.skip']} bottleneck={params['model.bottleneck']}",
                    "train_seconds": metrics["train_seconds"],
                    "loop_seconds": metrics["loop_seconds"],
                    "eval_seconds": metrics["eval_seconds"],
                    "purity_mean": metrics.get("purity_mean"),
                    "threads": int(run["tags"].get("ablate.threads", "2")),
                    "kmeans": params["eval.kmeans"],
                }
            )
    return {"jobs": sorted(jobs, key=lambda j: j["arm"]), "launch": str(launch)}


def overhead(sweep: dict) -> float:
    """Seconds per job outside training and evaluation (run it with eval.latent=false: no k-means
    either). Per-epoch logging, snapshots and checkpoints count as overhead."""
    return (sweep["wall"] - work(sweep)) / len(sweep["jobs"])


def work(sweep: dict) -> float:
    """Training and evaluation summed over the jobs: the epochs' training and eval-loss passes and
    the final evaluation (its pass over the eval split, and k-means when on)."""
    return sum(j["loop_seconds"] + j["eval_seconds"] for j in sweep["jobs"])
