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
    parent = max((r for r in runs if "mlflow.parentRunId" not in r.data.tags), key=lambda r: r.info.start_time)
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


SEARCH = [*ARGS, "hydra/sweeper=optuna", "hparams=smoke", "hydra.sweeper.n_trials=2"]


def test_rounds_under_the_optuna_sweeper_top_up_the_tuned_arms(ablate_cli, launch_dir):
    """Round 1 is the search (every trial at the first look's seeds); later rounds add seeds to the
    tuned arms with their best values: the report's cells grow, the trials stay two per arm."""
    code, out, err = ablate_cli(*SEARCH)
    assert code == 0, err
    parent, children = _store(launch_dir)
    record = json.loads(parent.data.tags["ablate.rounds"])
    assert record["rounds"][0] == {"round": 1, "cells": 4, "seeds": 2} and len(record["rounds"]) >= 2
    assert all(r.info.status == "FINISHED" for r in children)
    cells = _cells(children)
    assert max(cells.values()) == record["rounds"][-1]["seeds"] > 2  # seeds beyond the search's
    seeds = Counter(
        (r.data.params["model.skip"], r.data.params["model.bottleneck"], r.data.params["seed"]) for r in children
    )
    assert set(seeds.values()) == {1}
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    studies = [r for r in children if r.data.tags.get("ablate.kind") == "study"]
    assert len(studies) == 4
    for arm in studies:
        best = json.loads(arm.data.tags["ablate.optuna.best_params"])
        mine = [
            r
            for r in children
            if json.loads(r.data.tags["ablate.overrides"]) == json.loads(arm.data.tags["ablate.overrides"])
        ]
        assert {float(r.data.params["trainer.lr"]) for r in mine} == {
            best["trainer.lr"]
        }  # every seed at the best value
        trials = client.search_runs([arm.info.experiment_id], f"tags.mlflow.parentRunId = '{arm.info.run_id}'")
        assert {r.data.tags.get("ablate.optuna.trial") for r in trials} >= {"0", "1"}  # the search's two trials
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    text = report.read_text()
    assert "## Hyper-parameter search (Optuna)" in text and "Seeds in rounds (`replicates=auto`)" in text

    code, out, err = ablate_cli(*SEARCH)  # the same command again: studies complete, every seed finished
    assert code == 0, err
    again, rerun = _store(launch_dir)
    assert again.info.run_id == parent.info.run_id and len(rerun) == len(children)
    assert json.loads(again.data.tags["ablate.rounds"]) == record
    assert report.read_text() == text


def test_optuna_rounds_after_an_earlier_search_and_with_a_lost_job(ablate_cli, launch_dir, monkeypatch):
    """Studies an earlier command completed on one seed per trial: round 1 trains their best values'
    missing seeds. Jobs lost before they started (as a cluster launcher records them: a top-up under
    its arm's run, another under the sweep's) are no seeds: the rerun decides as before, adds nothing."""
    assert ablate_cli(*[o for o in SEARCH if o != "replicates=auto"], "replicates=1")[0] == 0
    code, out, err = ablate_cli(*SEARCH)
    assert code == 0, err
    parent, children = _store(launch_dir)
    record = json.loads(parent.data.tags["ablate.rounds"])
    assert record["rounds"][0] == {"round": 1, "cells": 4, "seeds": 2}
    assert min(_cells(children).values()) >= 2 and all(r.info.status == "FINISHED" for r in children)

    from ablate.job.contract import ENV_EXPERIMENT, ENV_PARENT, ENV_URI, close_cell

    arm = next(r for r in children if r.data.tags.get("ablate.kind") == "study")
    for key, value in ((ENV_URI, f"sqlite:///{launch_dir / 'mlflow.db'}"), (ENV_PARENT, parent.info.run_id)):
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(ENV_EXPERIMENT, parent.info.experiment_id)
    job = [*json.loads(arm.data.tags["ablate.overrides"]), "replicates=3"]
    close_cell([*job, f"hydra.job.env_set.{ENV_PARENT}='{arm.info.run_id}'"], "lost", "FAILED", "lost", None)
    close_cell(job, "lost before its run", "FAILED", "lost", None)  # a job of the sweep's own: no seed
    for key in (ENV_URI, ENV_PARENT, ENV_EXPERIMENT):
        monkeypatch.delenv(key)
    lost = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}").search_runs(
        [parent.info.experiment_id], "attributes.run_name = 'lost'"
    )
    assert [r.data.tags["mlflow.parentRunId"] for r in lost] == [arm.info.run_id]  # under its arm, as its job

    code, _, err = ablate_cli(*SEARCH)  # the rounds replayed; the sweep then fails on its lost job
    assert code == 1 and f"1 of {len(children) + 1} runs failed (see the report): lost before its run" in err, err
    again, rerun = _store(launch_dir)
    assert again.info.run_id == parent.info.run_id and len(rerun) == len(children) + 1  # + the seedless one
    assert json.loads(again.data.tags["ablate.rounds"]) == record
