"""The real thing: the README's quick start, `python -m ablate -m model.skip=true,false
model.bottleneck=true,false` (4 jobs, 3 replicates each by default), in a scratch launch folder,
timed from outside, with the per-run numbers read back from its MLflow store.

Overhead per job: (wall time - every run's loop_seconds and eval_seconds) / jobs, a job being one
arm (its replicates are runs of the same job). A packed run's loop_seconds is its share of the
pack's time, so the sum over runs is the training time in both ways. What is left is the Python
start and imports, config checks, data loading, MLflow, artifacts, figures and the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import OLD_SPIN, ROOT, SPIN_VARS

GRID = ["-m", "model.skip=true,false", "model.bottleneck=true,false"]
QUIET = ["trainer.progress=false", "tracking.experiment=bench", "hydra/job_logging=disabled"]


def run_sweep(overrides: list[str], env: dict[str, str] | None = None, timeout: float = 1800) -> dict:
    """The quick start with `overrides`, in a process whose environment is this one's without the
    thread counts, the tracking URI and OpenMP's wait policy (ablate's default), plus `env`."""
    launch = Path(tempfile.mkdtemp(prefix="ablate-bench-sweep-"))
    drop = {"MLFLOW_TRACKING_URI", *SPIN_VARS}
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k not in drop}
    full_env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(ROOT), **(env or {})})
    command = [sys.executable, "-m", "ablate", *GRID, *QUIET, *overrides]
    tic = time.perf_counter()
    proc = subprocess.run(command, cwd=launch, env=full_env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed: {' '.join(command)}\n{proc.stderr[-3000:]}")
    shown_env = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    return {
        "command": " ".join(filter(None, [shown_env, "python -m ablate", *GRID, *overrides])),
        "wall": wall,
        **_read_back(launch),
    }


def _read_back(launch: Path) -> dict:
    from ablate.tracking.store import Tracker

    tracker = Tracker(f"sqlite:///{launch / 'mlflow.db'}")
    experiment = tracker.experiment_id("bench")
    if experiment is None:
        raise RuntimeError(f"no experiment 'bench' in {launch / 'mlflow.db'}")
    runs = []
    for sweep in tracker.sweeps(experiment):
        for run in tracker.children(experiment, sweep["run_id"]):
            params, metrics = run["params"], run["metrics"]
            runs.append(
                {
                    "arm": f"skip={params['model.skip'].lower()} bottleneck={params['model.bottleneck'].lower()}",
                    "seed": params.get("seed"),
                    "train_seconds": metrics["train_seconds"],
                    "loop_seconds": metrics["loop_seconds"],
                    "eval_seconds": metrics["eval_seconds"],
                    "purity_mean": metrics.get("purity_mean"),
                    "threads": int(run["tags"].get("ablate.threads", "2")),
                    "kmeans": params.get("eval.kmeans"),
                    "pack": params.get("trainer.pack"),
                    "precision": params.get("trainer.precision"),
                    "resolved_precision": params.get("trainer.resolved_precision"),
                }
            )
    return {"jobs": sorted(runs, key=lambda j: (j["arm"], str(j["seed"]))), "launch": str(launch)}


def jobs(sweep: dict) -> int:
    """The sweep's jobs: its distinct arms (`jobs` in the results holds one entry per run)."""
    return len({run["arm"] for run in sweep["jobs"]})


def overhead(sweep: dict) -> float:
    """Seconds per job outside training and evaluation. Per-epoch logging, snapshots and
    checkpoints count as overhead."""
    return (sweep["wall"] - work(sweep)) / jobs(sweep)


def work(sweep: dict) -> float:
    """Training and evaluation summed over the runs: the epochs' training and eval-loss passes and
    the final evaluation (its pass over the eval split, and k-means when on)."""
    return sum(j["loop_seconds"] + j["eval_seconds"] for j in sweep["jobs"])


def quickstart(quick: bool) -> dict:
    """The quick start twice: with the old settings (vectorized packs of up to 16, fp32,
    OMP_WAIT_POLICY=PASSIVE) and with the new defaults (no overrides). --quick: 1 epoch on 1,000 images."""
    shrink = ["trainer.epochs=1", "data.limit=1000"] if quick else []
    old = run_sweep(["trainer.precision=fp32", "trainer.pack=16", *shrink], OLD_SPIN)
    new = run_sweep(shrink)
    for s in (old, new):
        s["overhead"], s["n_jobs"] = overhead(s), jobs(s)
    return {"old": old, "new": new, "ratio": new["wall"] / old["wall"]}
