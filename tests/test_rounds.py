"""`replicates=auto` end to end: seeds added in rounds to the cells of the claims still open, as
jobs of one sweep under one parent run, through the basic and the parallel launchers; a rerun
adds nothing and rebuilds the same report; a sweep killed in a round resumes to the same numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # real sweeps of a few rounds each

ARGS = [
    "-m",
    "model.skip=true,false",
    "model.bottleneck=true,false",
    "replicates=auto",
    "sequential.min=2",
    "sequential.max=4",
    "data.limit=300",
    "trainer.epochs=2",
    "trainer.batch_size=64",
    "trainer.progress=false",
    "eval.kmeans_seeds=2",
    "eval.n_init=1",
    "trainer.snapshots=2",
    "tracking.experiment=rounds",
    "hydra/job_logging=disabled",
    "trainer.threads=1",  # the killed subprocess and this process alike (an earlier test may have set torch's)
]


def _store(launch_dir: Path):
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("rounds").experiment_id], max_results=1000)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return parent, children


def _cells(children) -> Counter:
    return Counter((r.data.params["model.skip"], r.data.params["model.bottleneck"]) for r in children)


def test_rounds_add_seeds_where_claims_are_open_and_a_rerun_adds_nothing(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*ARGS)
    assert code == 0, err
    parent, children = _store(launch_dir)
    design = json.loads(parent.data.tags["ablate.sequential"])
    record = json.loads(parent.data.tags["ablate.rounds"])
    assert design == {"min": 2, "max": 4, "step": 1}
    assert record["rounds"][0] == {"round": 1, "cells": 4, "seeds": 2} and len(record["rounds"]) >= 2
    cells = _cells(children)
    assert set(cells.values()) <= {2, 3, 4} and max(cells.values()) == record["rounds"][-1]["seeds"]
    assert all(r.info.status == "FINISHED" for r in children)
    # every seed once per cell, seeds 0 .. n-1
    seeds = Counter(
        (r.data.params["model.skip"], r.data.params["model.bottleneck"], r.data.params["seed"]) for r in children
    )
    assert set(seeds.values()) == {1}
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    text = report.read_text()
    assert "- Sequential (`replicates=auto`, 3 looks at n = 2, 3, 4)" in text and record["end"] in text

    code, out, err = ablate_cli(*ARGS)  # the same command again: the same rounds, replayed from the store
    assert code == 0, err
    again, rerun = _store(launch_dir)
    assert again.info.run_id == parent.info.run_id and len(rerun) == len(children)
    assert json.loads(again.data.tags["ablate.rounds"]) == record
    assert report.read_text() == text


def test_rounds_through_the_parallel_launcher(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*ARGS, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2")
    assert code == 0, err
    parent, children = _store(launch_dir)
    assert len(json.loads(parent.data.tags["ablate.rounds"])["rounds"]) >= 2
    assert all(r.info.status == "FINISHED" for r in children) and max(_cells(children).values()) > 2


def test_a_sweep_killed_in_a_round_resumes_to_the_same_numbers(ablate_cli, tmp_path):
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.mkdir(), crashed.mkdir()
    os.chdir(clean)
    assert ablate_cli(*ARGS)[0] == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ablate", *ARGS],
        cwd=crashed,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    for line in proc.stdout:  # round 1 done: kill -9 while round 2 trains
        if line.startswith("round 1:"):
            time.sleep(1.5)
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    os.chdir(crashed)
    assert ablate_cli(*ARGS)[0] == 0
    metrics = {}
    for folder in (clean, crashed):
        _, children = _store(folder)
        metrics[folder] = sorted(
            (
                r.data.params["model.skip"],
                r.data.params["model.bottleneck"],
                r.data.params["seed"],
                r.data.metrics["final_eval_loss"],
                r.data.metrics["purity_mean"],
            )
            for r in children
            if r.info.status == "FINISHED"
        )
    assert metrics[clean] == metrics[crashed]
