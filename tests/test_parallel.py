"""Jobs side by side: the joblib preset (4 worker processes into one fresh sqlite store), the
submitit launcher run locally, the SLURM preset, and each job's share of GPUs and threads."""

from __future__ import annotations

import os

import pytest
import torch
from helpers.runs import TINY
from mlflow.tracking import MlflowClient

from ablate.job import resources as parallel
from ablate.tracking.tags import PID

FAST = [*TINY, "data.limit=200"]
METRICS = ("train_loss", "eval_loss", "purity_mean", "nmi_mean", "ari_mean", "latent_dim", "n_params")


def sweep_runs(store, experiment):
    client = MlflowClient(store)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def check_sweep(store, experiment, n_jobs):
    """One FINISHED parent, n FINISHED children attached to it, every metric of every epoch."""
    client, parents, children = sweep_runs(store, experiment)
    assert len(parents) == 1 and len(children) == n_jobs
    assert parents[0].info.status == "FINISHED"
    for child in children:
        assert child.info.status == "FINISHED", child.data.tags.get("ablate.error")
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert set(METRICS) <= set(child.data.metrics)
        for key in ("train_loss", "eval_loss"):
            assert [m.step for m in client.get_metric_history(child.info.run_id, key)] == [1, 2]
    return children


@pytest.mark.slow  # two real sweeps (4 + 2 jobs) in joblib worker processes
def test_joblib_preset_runs_4_jobs_at_once_into_one_sqlite_store(ablate_cli, launch_dir, monkeypatch):
    # as if the machine had GPUs 0 and 1 (set by the user): each job takes job number % 2
    gpus = "++hydra.job.env_set.CUDA_VISIBLE_DEVICES='0,1'"
    code, out, err = ablate_cli(
        "-m",
        "hydra/launcher=parallel",
        "hydra.launcher.n_jobs=4",
        "seed=0,1,2,3",
        gpus,
        *FAST,
        "tracking.experiment=par",
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("report: ")
    for bad in ("database is locked", "Traceback", "error:", "job failed"):
        assert bad not in out + err
    children = check_sweep(f"sqlite:///{launch_dir / 'mlflow.db'}", "par", 4)
    assert {c.data.params["seed"] for c in children} == {"0", "1", "2", "3"}
    # the jobs ran in worker processes, at the same time, with the CPU threads split between them
    tags = [c.data.tags for c in children]
    assert all(t["ablate.concurrent_jobs"] == "4" for t in tags)
    assert all(t["ablate.threads"] == str(max(1, len(os.sched_getaffinity(0)) // 4)) for t in tags)
    assert {(c.data.params["seed"], c.data.tags["ablate.gpu"]) for c in children} == {
        ("0", "0"),
        ("1", "1"),
        ("2", "0"),
        ("3", "1"),
    }
    assert all(PID in t for t in tags), tags
    assert str(os.getpid()) not in {t[PID] for t in tags} and len({t[PID] for t in tags}) > 1
    spans = sorted((c.info.start_time, c.info.end_time) for c in children)
    assert any(b[0] < a[1] for a, b in zip(spans[:-1], spans[1:], strict=True)), "no two jobs overlapped"

    # joblib keeps its workers for the next sweep: they must follow this sweep's store and parent
    second = launch_dir / "second"
    second.mkdir()
    monkeypatch.chdir(second)
    code, _, err = ablate_cli("-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=4", "seed=4,5", *FAST)
    assert code == 0, err
    again = check_sweep(f"sqlite:///{second / 'mlflow.db'}", "ablate", 2)
    assert all(PID in c.data.tags for c in again)  # the same worker processes ran them
    assert {c.data.tags[PID] for c in again} <= {t[PID] for t in tags}
    assert len(sweep_runs(f"sqlite:///{launch_dir / 'mlflow.db'}", "par")[2]) == 4


@pytest.mark.slow  # a 2-job sweep, each job a submitit subprocess training 2 packed replicates
def test_submitit_local_launcher_attaches_every_job_to_the_parent(ablate_cli, launch_dir):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    code, out, err = ablate_cli(
        "-m", "hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=5",
        "model.skip=true,false", *FAST, "replicates=2", "trainer.pack=2", "tracking.experiment=sub",
    )  # fmt: skip
    logs = "".join(p.read_text()[-3000:] for p in launch_dir.glob("multirun/*/*/.submitit/*/*_log.*"))
    assert code == 0, err + logs
    assert out.strip().splitlines()[-1].startswith("report: ")
    children = check_sweep(f"sqlite:///{launch_dir / 'mlflow.db'}", "sub", 4)
    assert all(c.data.tags["ablate.threads"] == "1" for c in children)  # cpus_per_task
    assert sorted((c.data.params["model.skip"], c.data.params["seed"]) for c in children) == [
        ("False", "0"), ("False", "1"), ("True", "0"), ("True", "1")]  # fmt: skip
    assert all(c.data.params["pack_size"] == "2" for c in children)  # each job's replicates packed
    assert list(launch_dir.glob("multirun/*/*/.submitit/*/*_log.out"))  # submitit ran them as processes


def test_slurm_preset_composes_with_its_documented_keys():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_module

    from ablate.config import register_configs

    register_configs()  # the schemas the YAML lists (the CLI registers them at import)

    with initialize_config_module(config_module="ablate.conf", version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=2"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.cpus_per_task) == ("gpu", 2, 8)
    assert launcher.timeout_min > 0 and launcher.mem_gb > 0 and launcher.array_parallelism > 0


def test_each_parallel_job_takes_one_visible_gpu_and_a_share_of_the_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv(parallel.ENV_GPUS, "")  # restored (removed) after the test
    monkeypatch.delenv(parallel.ENV_GPUS)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")  # set by the user or SLURM: the job picks from it
    monkeypatch.setenv(parallel.ENV_N_JOBS, "3")
    try:
        chosen = parallel.assign_resources()
        assert chosen["ablate.gpu"] == os.environ["CUDA_VISIBLE_DEVICES"] == "4"  # job 0 of 3, 2 GPUs
        assert chosen["ablate.threads"] == str(max(1, len(os.sched_getaffinity(0)) // 3))
        assert parallel.gpu_ids() == ["4", "5"]  # a later job in this worker still sees both
        assert parallel.assign_resources(threads=1)["ablate.threads"] == "1"  # trainer.threads wins
    finally:
        torch.set_num_threads(before)
    assert parallel.concurrent_jobs({"_target_": "x.JoblibLauncher", "n_jobs": -1}) == len(os.sched_getaffinity(0))
    assert parallel.concurrent_jobs({"_target_": "x.JoblibLauncher", "n_jobs": 2}) == 2
    monkeypatch.delenv(parallel.ENV_N_JOBS)
    assert parallel.concurrent_jobs({"_target_": "x.BasicLauncher"}) == 1
