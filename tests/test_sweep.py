"""The 2x2 sweep end to end, in-process and shrunk: MLflow runs, artifacts and the report."""

from __future__ import annotations

import csv

import pytest
from helpers.runs import TINY
from mlflow.tracking import MlflowClient


@pytest.mark.slow  # a real 4-job sweep and its report (~46 s)
def test_2x2_multirun_logs_runs_and_writes_report(ablate_cli, launch_dir):
    code, out, err = ablate_cli(
        "-m", "model.skip=true,false", "model.bottleneck=true,false", *TINY, "tracking.experiment=grid"
    )
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("report: ")
    report = launch_dir / last.split("report: ", 1)[1]
    assert report.is_file() and report.parent.parent == launch_dir / "reports"

    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("grid")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert exp.artifact_location.startswith((launch_dir / "mlartifacts").as_uri())
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert 0 < parent.data.metrics["baseline_purity_mean"] <= 1 and "baseline_purity_std" in parent.data.metrics
    arms = set()
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        p, m = child.data.params, child.data.metrics
        arms.add((p["model.skip"], p["model.bottleneck"]))
        assert p["trainer.epochs"] == "2" and p["seed"] == "0"
        for key in (
            "purity_mean",
            "purity_std",
            "nmi_mean",
            "ari_mean",
            "latent_dim",
            "n_params",
            "train_seconds",
            "train_loss",
            "eval_loss",
        ):
            assert key in m, key
        assert m["latent_dim"] == (16 if p["model.bottleneck"] == "True" else 784)
        assert 0 < m["loop_seconds"] <= m["train_seconds"]  # the passes alone, without logging and checkpoints
        assert m["eval_seconds"] > 0
        assert 0 < m["epoch_cost_s"] <= 4 * m["loop_seconds"]  # CPU process time of one epoch (at most 2 threads)
        assert [h.step for h in client.get_metric_history(child.info.run_id, "eval_loss")] == [1, 2]
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "latents.npz", "model.pt", "loss_curve.png", "progress"} <= names
        grids = {a.path for a in client.list_artifacts(child.info.run_id, "progress")}
        assert grids == {"progress/epoch_001.png", "progress/epoch_002.png"}
    assert arms == {("True", "True"), ("True", "False"), ("False", "True"), ("False", "False")}
    assert any(a.path == "report" for a in client.list_artifacts(parent.info.run_id))

    text = report.read_text()
    assert "| model.skip | model.bottleneck | purity mean |" in text and "raw pixels" in text
    assert "0.6998 ± 0.0001" in text  # the article's column
    assert "one training run" in text  # n = 1: no claims about arms
    for link in [line.split("](")[1].split(")")[0] for line in text.splitlines() if "![" in line]:
        assert (report.parent / link).is_file(), link
    rows = list(csv.DictReader((report.parent / "results.csv").open()))
    assert len(rows) == 4 and all(0 < float(r["purity_mean"]) <= 1 for r in rows)


def test_single_run_prints_metrics(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*TINY, "model.bottleneck=true", "seed=0")
    assert code == 0, err
    assert '"purity_mean"' in out and "mlflow run:" in out
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ablate").experiment_id])
    assert run.info.status == "FINISHED" and run.data.metrics["latent_dim"] == 16


@pytest.mark.slow  # two real runs (~17 s)
def test_seed_fixes_everything(ablate_cli, launch_dir):
    for _ in range(2):  # tracking.resume=false: trained twice (a rerun would reuse the finished run)
        assert ablate_cli(*TINY, "seed=0", "tracking.experiment=det", "tracking.resume=false")[0] == 0
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    a, b = client.search_runs([client.get_experiment_by_name("det").experiment_id])
    for key in ("final_train_loss", "final_eval_loss", "purity_mean"):
        assert a.data.metrics[key] == b.data.metrics[key]
