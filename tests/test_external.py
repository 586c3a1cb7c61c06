"""A model from outside the repository: examples/fcae (a package of its own with its own
conf/model/fcae.yaml), run from a folder outside the repo through Hydra's standard search path,
with nothing under ablate/ edited: runs tracked, purity scored, report written; its keys checked
before anything runs, against its constructor's signature (it has no schema)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from helpers.runs import TINY
from helpers.wheel import REPO
from mlflow.tracking import MlflowClient

EXAMPLE = REPO / "examples" / "fcae"
SEARCH = f"hydra.searchpath=[file://{EXAMPLE / 'conf'}]"


@pytest.fixture
def fcae(monkeypatch, launch_dir):
    """The example package importable, as `pip install -e examples/fcae` would make it."""
    assert REPO not in launch_dir.parents and launch_dir != REPO
    monkeypatch.syspath_prepend(str(EXAMPLE))


@pytest.mark.slow
def test_a_two_cell_sweep_over_an_external_models_key(ablate_cli, launch_dir, fcae):
    code, out, err = ablate_cli("-m", SEARCH, "model=fcae", "model.hidden=32,64", *TINY, "tracking.experiment=ext")
    assert code == 0, err
    report = out.strip().splitlines()[-1]
    assert report.startswith("report: ")
    text = (launch_dir / report.split(": ", 1)[1]).read_text()
    assert "model.hidden" in text and "| 32 |" in text and "| 64 |" in text

    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ext")
    children = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    assert sorted(r.data.params["model.hidden"] for r in children) == ["32", "64"]
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.params["model._target_"] == "fcae.FCAutoencoder"
        assert run.data.metrics["latent_dim"] == 16  # the model's own latent, scored by k-means
        assert 0.1 < run.data.metrics["purity_mean"] <= 1 and math.isfinite(run.data.metrics["final_eval_loss"])


@pytest.mark.parametrize(
    "args,expected",
    [
        (["model.hiden=3"], "model.hiden: unknown key (allowed: _target_, hidden, latent)"),
        (["+model.hiden=3"], "model.hiden: unknown key for fcae.FCAutoencoder (allowed: _target_, hidden, latent)"),
        (["+model.in_channels=3"], "model.in_channels: set by ablate for fcae.FCAutoencoder"),
        (
            ["model._target_=fcae.FCAutoencodr"],
            "model._target_=fcae.FCAutoencodr: cannot import it: fcae has no FCAutoencodr",
        ),
    ],
    ids=["typo", "added-typo", "supplied", "target"],
)
@pytest.mark.parametrize("how", ["searchpath", "config-dir"])
def test_an_external_models_bad_keys_are_one_line(ablate_cli, launch_dir, fcae, args, expected, how):
    where = [SEARCH] if how == "searchpath" else ["--config-dir", str(EXAMPLE / "conf")]
    code, out, err = ablate_cli("-m", *where, "model=fcae", "model.latent=8,16", *args)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert not (launch_dir / "mlflow.db").exists() and not (launch_dir / "multirun").exists()


def test_an_optional_claim_the_sweep_cannot_test_is_left_out(ablate_cli, launch_dir, fcae):
    """A default claim set must never stop another study: an optional claim whose levels the sweep
    does not have, or whose factors it does not vary, is not an error (the report leaves it out)."""
    optional = "+claims.wider_denoises_better.optional=true"
    for grid in (["model.hidden=16,128"], ["model.latent=8,16"]):
        code, out, err = ablate_cli(*STUDY, optional, *grid, "--dry-run")
        assert code == 0 and "2 jobs" in out, out + err


def test_a_builtin_models_typo_names_its_schemas_keys(ablate_cli, launch_dir):
    code, _, err = ablate_cli("model.skp=false")
    assert code == 2
    assert err.strip() == (
        "error: model.skp: unknown key (allowed: _target_, channels, middle, skip, bottleneck, bottleneck_dim)"
    )


@pytest.mark.parametrize(
    "args,expected",
    [
        (["+model.skp=false"], "model.skp: unknown key for ablate.models.unet.UNet (allowed: _target_, bottleneck, "),
        (["+data.foo=1"], "data.foo: unknown key for ablate.data.mnist5k.load (allowed: _target_, channels"),
        (["model.channels=[4,8,16]"], "data.image_size / model.channels: input size (28, 28) cannot be halved 3"),
    ],
    ids=["added-model-key", "added-data-key", "size-misfit"],
)
def test_builtin_components_are_checked_against_their_target_too(ablate_cli, launch_dir, args, expected):
    code, _, err = ablate_cli(*args)
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not (launch_dir / "mlflow.db").exists()


def test_a_dataset_without_a_schema_must_say_what_it_holds(ablate_cli, launch_dir, tmp_path):
    conf = tmp_path / "conf" / "data"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text(
        "_target_: ablate.data.mnist5k.load\nname: mine\nchannels: 1\nimage_size: [28, 28]\n"
    )
    code, _, err = ablate_cli("--config-dir", str(tmp_path / "conf"), "data=mine")
    expected = (
        "data.labelled: missing for ablate.data.mnist5k.load (a dataset's YAML sets channels, image_size, labelled)"
    )
    assert code == 2 and err.strip() == f"error: {expected}"
    code, _, err = ablate_cli("--config-dir", str(tmp_path / "nowhere"), "data=mine")
    assert code == 2 and err.strip() == f"error: --config-dir {tmp_path / 'nowhere'}: no such folder"


def test_the_meta_device_build_judges_sizes_only():
    from ablate.config import ConfigError
    from ablate.job.components import misfit

    task = {"_target_": "ablate.tasks.autoencode.Autoencode"}
    data = {"channels": 1, "image_size": [28, 28], "labelled": True}
    assert misfit({"_target_": "helpers.models.MetaShy"}, task, data) is None  # .item() on meta: not a verdict
    assert misfit({"_target_": "helpers.models.Picky", "width": 3}, task, data) is None
    with pytest.raises(ConfigError, match=r"^model \(helpers.models.Picky\): ValueError: width must be > 0, got 0$"):
        misfit({"_target_": "helpers.models.Picky", "width": 0}, task, data)


def test_an_external_task_and_dataset_beside_the_builtin_unet(ablate_cli, launch_dir, fcae):
    code, out, err = ablate_cli(SEARCH, "task=denoise", "data=blobs", "task.sigma=0.2", *TINY)
    assert code == 0, err
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ablate").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["task._target_"] == "fcae.denoise.Denoise" and run.data.params["data.name"] == "blobs"
    assert run.data.params["model._target_"] == "ablate.models.unet.UNet"
    assert run.data.metrics["psnr"] > 5 and 0.25 <= run.data.metrics["purity_mean"] <= 1  # 4 classes: labelled
    code, _, err = ablate_cli(SEARCH, "task=denoise", "data=blobs", "task.sigma=-1")
    assert code == 2 and err.strip() == "error: task (fcae.denoise.Denoise): ValueError: sigma must be >= 0, got -1"


REWORDED = "claims.wider_denoises_better.says='more hidden units remove more noise'"
STUDY = ["-m", SEARCH, "model=fcae", "task=denoise", "data=blobs", "claims=fcae", *TINY, "replicates=2"]


@pytest.mark.slow
def test_an_external_study_is_judged_by_its_declared_claim_on_its_own_metric(ablate_cli, launch_dir, fcae):
    """examples/fcae's study, run from outside the repository with nothing under ablate/ edited: its
    claim (conf/claims/fcae.yaml) decides on its task's own metric (Denoise declares `mae`), and the
    metric reaches the report's tables and summary, the console's per-arm table and the UI view."""
    code, out, err = ablate_cli(*STUDY, "model.hidden=32,64", "tracking.experiment=study")
    assert code == 0, err
    console, report = out.strip().splitlines(), out.strip().splitlines()[-1]
    text = (launch_dir / report.split(": ", 1)[1]).read_text()
    lines = text.splitlines()
    # the report opens with the answer: two epochs have not converged, so first the claim withheld,
    # then the claim's line with its effect and interval
    opening = lines[lines.index("## Summary") + 2]
    assert opening.startswith("- ⚠ **not converged: claim 1 is provisional, no verdict.**"), opening
    first = lines[lines.index("## Summary") + 3]
    assert first.startswith("- **Claim 1** (a wider hidden layer denoises better): **"), first
    assert re.search(r"\*\*provisional \(not converged\)\*\* at n = 2 training seeds", first), first
    assert "model.hidden: 64 − 32 on mean abs. error = " in first
    assert "| mean abs. error |" in text  # the quality table's column
    assert re.search(r"best arm: .*mean abs\. error: model\.hidden=(32|64) \(", text)  # the summary
    assert ",mae,main," in Path(report.split(": ", 1)[1]).with_name("effects.csv").read_text()  # its effects
    header = next(line for line in console if line.startswith("arm "))
    assert header.split()[-1] == "mae", header  # the console's per-arm table

    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("study")
    (view,) = [json.loads(v) for k, v in exp.tags.items() if k.startswith("mlflow.sharedViewState.")]
    assert "metrics.`mae`" in view["selectedColumns"]
    assert any(c.get("metricKey") == "mae" and c["type"] == "BAR" for c in view["compareRunCharts"])
    parent = next(r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("ablate.kind") == "sweep")
    stored = json.loads(Path(client.download_artifacts(parent.info.run_id, "study/claims.json")).read_text())
    assert list(stored["claims"]) == ["wider_denoises_better"]  # the report can be rebuilt from the store

    # a claim reworded: no run trained or added, the same sweep's report says the new words
    before = {r.info.run_id for r in client.search_runs([exp.experiment_id])}
    code, out, err = ablate_cli(*STUDY, "model.hidden=32,64", "tracking.experiment=study", REWORDED)
    assert code == 0, err
    assert {r.info.run_id for r in client.search_runs([exp.experiment_id])} == before
    text = Path(out.strip().splitlines()[-1].split(": ", 1)[1]).read_text()
    assert "- **Claim 1** (more hidden units remove more noise): **" in text


@pytest.mark.parametrize(
    "args,expected",
    [
        (
            ["model.hidden=32,128"],
            "claims.wider_denoises_better: model.hidden=64 is not in the sweep (allowed: 32, 128)",
        ),
        (
            ["model.latent=8,16"],
            "claims.wider_denoises_better: model.hidden is not swept (swept: model.latent; e.g. model.hidden=32,64)",
        ),
        (
            ["model.hidden=32,64", "claims.wider_denoises_better.effects.0.metric=sharpness"],
            "claims.wider_denoises_better: metric sharpness has no effects in the report (allowed: purity_mean, ",
        ),
        (
            ["model.hidden=32,64", "claims.wider_denoises_better.effects.0.expect=up"],
            "claims.wider_denoises_better.effects[0].expect: 'up' is not allowed (allowed: higher, lower)",
        ),
        (
            ["model.hidden=32,64", "task=autoencode"],
            "claims.wider_denoises_better: applies to task ['denoise'], data any; this sweep runs task=autoencode",
        ),
        (
            ["model.hidden=32,64", "claims.wider_denoises_better.effects.0.metric=final_train_loss"],
            "claims.wider_denoises_better: metric final_train_loss has no effects in the report (allowed: ",
        ),
        (
            ["model=fcae,fcae_wide"],  # varied only through the group: the report's factor is `model`
            "claims.wider_denoises_better: model.hidden is not swept (swept: model; e.g. model.hidden=32,64)",
        ),
        (
            ["model.hidden=32,64", "+claims.wider_denoises_better.effects.0.within={model.latent: 8}"],
            "claims.wider_denoises_better: model.latent is not swept (swept: model.hidden; e.g. model.latent=8)",
        ),
    ],
    ids=["level", "not-swept", "metric", "direction", "scope", "untested-metric", "group-only", "within"],
)
def test_a_claim_the_sweep_cannot_test_is_one_line_before_anything_runs(ablate_cli, launch_dir, fcae, args, expected):
    code, out, err = ablate_cli(*STUDY, *args)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert not (launch_dir / "mlflow.db").exists() and not (launch_dir / "multirun").exists()


@pytest.mark.parametrize(("task", "code"), [("denoise", 0), ("autoencode", 2)])
def test_a_search_may_prune_on_a_tasks_own_metric(ablate_cli, launch_dir, fcae, task, code):
    """The Optuna sweeper reads the registry with the arms' tasks' metrics: Denoise's per-epoch `mae`
    can be what the pruner judges; where no arm's task declares it, that is one line, exit 2."""
    search = ["hydra/sweeper=optuna", "hparams=smoke", "hydra.sweeper.pruner=median", "hydra.sweeper.prune_metric=mae"]
    args = ["-m", SEARCH, "model=fcae", f"task={task}", "data=blobs", "claims=none", *search, "--dry-run"]
    got, out, err = ablate_cli(*args)
    assert got == code, out + err
    if code:
        assert err.strip().splitlines() == [
            "error: hydra.sweeper.prune_metric=mae: not logged after every epoch, so nothing to prune on "
            "(allowed: train_loss, eval_loss, psnr, ssim, miou, pixel_acc)"
        ], err
