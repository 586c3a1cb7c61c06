"""Replicates: a cell's seeds trained by one job, packed into one vectorized model (torch.func),
each replicate a full run of its own. Packed and one-at-a-time agree within stated tolerances."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from helpers.runs import TINY
from mlflow.tracking import MlflowClient
from torch import nn

from ablate.engine.setup import make_optimizer, seed_everything
from ablate.engine.vectorized import Stack
from ablate.models.unet import UNet
from ablate.tasks.autoencode import Autoencode

ARMS = [(True, True), (True, False), (False, True), (False, False)]


def bn_fed_biases(model: nn.Module) -> set[str]:
    """Biases of convolutions that feed a BatchNorm: their gradient is zero in exact arithmetic, so
    what they get is float noise, which Adam's first step scales to a full step of +-lr."""
    names = set()
    for prefix, module in model.named_modules():
        kids = list(module.named_children()) if isinstance(module, nn.Sequential) else []
        for (a, first), (_, second) in zip(kids, kids[1:], strict=False):
            if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                names.add(f"{prefix}.{a}.bias")
    return names


@pytest.mark.parametrize("skip,bottleneck", ARMS, ids=[f"skip={s}-bottleneck={b}" for s, b in ARMS])
def test_packed_forward_gradients_and_step_match_one_at_a_time(skip, bottleneck):
    task, replicates = Autoencode(), 3
    models = []
    for seed in range(replicates):
        seed_everything(seed)
        models.append(UNet(1, 1, skip=skip, bottleneck=bottleneck))
    alone = [copy.deepcopy(m) for m in models]
    stack = Stack(models)
    x = torch.rand(replicates, 16, 1, 28, 28)  # each replicate its own batch
    raw, latent = stack(x)
    losses = torch.stack([task.loss(task.output(raw[r]), x[r]) for r in range(replicates)])
    packed_opt = make_optimizer(list(stack.params.values()), "adam", 1e-3, 0.9, 0.0)
    losses.sum().backward()  # summed: each replicate's gradient is its own
    noisy = bn_fed_biases(alone[0])
    assert len(noisy) == 10
    for r, model in enumerate(alone):
        out, lat = model(x[r])
        assert (out - raw[r]).abs().max() < 1e-5 and (lat - latent[r]).abs().max() < 1e-5
        task.loss(task.output(out), x[r]).backward()
        scale = max(p.grad.abs().max() for p in model.parameters())
        for name, p in model.named_parameters():
            assert (p.grad - stack.params[name].grad[r]).abs().max() <= 1e-5 * scale, name
        for name, b in model.named_buffers():  # BatchNorm statistics updated per replicate
            assert (b.float() - stack.buffers[name][r].float()).abs().max() < 1e-6, name
    packed_opt.step()
    for r, model in enumerate(alone):
        make_optimizer(model, "adam", 1e-3, 0.9, 0.0).step()
        for name, p in model.named_parameters():
            limit = 2e-3 + 1e-6 if name in noisy else 1e-6
            assert (p - stack.params[name][r]).abs().max() <= limit, name


def _child_runs(launch_dir, experiment="ablate"):
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags]


KEYS = ("final_train_loss", "final_eval_loss", "purity_mean", "psnr")


@pytest.mark.slow
def test_a_packed_sweep_is_bit_identical_twice_and_reports_each_replicate(ablate_cli, launch_dir):
    metrics = []
    for attempt in ("first", "second"):
        folder = launch_dir / attempt
        folder.mkdir()
        __import__("os").chdir(folder)
        code, out, err = ablate_cli("-m", "model.skip=true,false", *TINY, "replicates=2", "trainer.pack=2", "seed=7")
        assert code == 0, err
        children = _child_runs(folder)
        assert sorted(c.data.params["seed"] for c in children) == ["7", "7", "8", "8"]
        assert all(c.info.status == "FINISHED" for c in children)
        assert sorted(c.info.run_name.rsplit(" ", 1)[1] for c in children) == ["seed=7", "seed=7", "seed=8", "seed=8"]
        metrics.append({(c.data.params["model.skip"], c.data.params["seed"]): [c.data.metrics[k] for k in KEYS]
                        for c in children})  # fmt: skip
        report = (folder / out.strip().splitlines()[-1].split(": ", 1)[1]).read_text()
        assert "replicates: training seeds `seed` (7, 8)" in report and "| 2 |" in report
    assert metrics[0] == metrics[1]


def test_overlapping_seeds_are_rejected_before_anything_runs(ablate_cli, launch_dir):
    code, _, err = ablate_cli("-m", "seed=0,1", "replicates=2", "model.skip=true,false")
    assert code == 2 and err.strip() == (
        "error: seed=0 and seed=1 with replicates=2 train seeds 1..1 twice (allowed: seeds spaced by "
        "replicates, e.g. seed=0,2,4; or one job with more replicates)"
    )
    assert not (launch_dir / "mlflow.db").exists()
    bad_values = [
        ("replicates=0", "replicates=0 is not allowed (allowed: 1 to 10000, or auto)"),
        ("seed=-1", "seed=-1 is not allowed with replicates=3"),
        ("trainer.pack=0", "trainer.pack=0 is not allowed (allowed: auto, or an integer >= 1)"),
        ("replicates=4294967297", "replicates=4294967297 is not allowed (allowed: 1 to 10000, or auto)"),
        ("seed=4294967295", "seed=4294967295 is not allowed with replicates=3"),
    ]
    for bad, message in bad_values:
        code, _, err = ablate_cli(bad)
        assert code == 2 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("way", ["trainer.pack=3", "trainer.pack=1"], ids=["packed", "one-after-another"])
def test_a_diverging_replicate_is_masked_and_the_others_finish(ablate_cli, launch_dir, tmp_path, way):
    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True)
    (conf / "overflowing.yaml").write_text("_target_: helpers.models.Overflowing\n")
    code, out, err = ablate_cli("-m", "-cd", str(tmp_path / "conf"), "model=overflowing", *TINY, "replicates=3", way)
    assert code == 1 and "1 of 3 runs failed (see the report)" in err  # each replicate is a run of the sweep
    runs = {c.data.params["seed"]: c for c in _child_runs(launch_dir)}
    assert runs["0"].info.status == "FAILED" and "NonFiniteLoss" in runs["0"].data.tags["ablate.error"]
    for seed in ("1", "2"):
        assert runs[seed].info.status == "FINISHED" and math.isfinite(runs[seed].data.metrics["final_eval_loss"])


def test_a_model_that_cannot_be_vectorized_trains_one_by_one(ablate_cli, launch_dir, tmp_path):
    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True)
    (conf / "dropping.yaml").write_text("_target_: helpers.models.Dropping\n")
    code, out, err = ablate_cli(
        "-cd", str(tmp_path / "conf"), "model=dropping", *TINY, "replicates=2", "trainer.pack=2"
    )
    assert code == 0, err
    assert "pack: Dropping cannot be vectorized (" in out and "its 2 replicates train one after another" in out
    assert "mean ± std" in out


@pytest.mark.slow
def test_an_interrupted_pack_resumes_to_the_uninterrupted_packs_numbers(ablate_cli, launch_dir, monkeypatch):
    args = [*TINY, "replicates=2", "trainer.pack=2", "trainer.epochs=4"]
    clean, broken = launch_dir / "clean", launch_dir / "broken"
    clean.mkdir(), broken.mkdir()
    monkeypatch.chdir(clean)
    assert ablate_cli(*args)[0] == 0
    monkeypatch.chdir(broken)
    monkeypatch.setenv("ABLATE_EPOCH_HOOK", "helpers.hooks.Interrupt:3")
    code, _, err = ablate_cli(*args)
    assert code == 130 and "interrupted" in err
    assert len(list((broken / "checkpoints").glob("pack-*/last.pt"))) == 1  # the pack at epoch 2, one file
    monkeypatch.delenv("ABLATE_EPOCH_HOOK")
    code, out, err = ablate_cli(*args)
    assert code == 0 and "seeds 0, 1 resumed from epoch 2 (" in out, err  # the job's end line says so
    assert not list((broken / "checkpoints").glob("pack-*"))

    def finished(folder):
        client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("ablate").experiment_id])
        done = {r.data.params["seed"]: r for r in runs if r.info.status == "FINISHED"}
        curves = {}
        for seed, run in done.items():  # step -> every value logged (an epoch redone after the kill: twice)
            for m in client.get_metric_history(run.info.run_id, "eval_loss"):
                curves.setdefault(seed, {}).setdefault(m.step, set()).add(m.value)
        return done, curves

    (ref, ref_curves), (got, got_curves) = finished(clean), finished(broken)
    assert set(ref) == set(got) == {"0", "1"}
    for seed in ref:
        assert got[seed].data.tags["ablate.resumed_epoch"] == "2"
        assert [got[seed].data.metrics[k] for k in KEYS] == [ref[seed].data.metrics[k] for k in KEYS]
        assert got_curves[seed] == ref_curves[seed]  # the whole eval-loss curve, bit for bit (a redone epoch too)
    assert len(MlflowClient(f"sqlite:///{broken / 'mlflow.db'}").search_runs(["1"])) == 2  # the same two runs


@pytest.mark.slow
def test_packed_jobs_run_through_the_parallel_launcher(ablate_cli, launch_dir):
    args = ["-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "model.skip=true,false", *TINY]
    code, out, err = ablate_cli(*args, "replicates=2", "trainer.pack=2", "tracking.experiment=par")
    assert code == 0, err
    children = _child_runs(launch_dir, "par")
    assert len(children) == 4 and all(c.info.status == "FINISHED" for c in children)
    assert {c.data.params["pack_size"] for c in children} == {"2"}
    assert sorted(c.data.params["seed"] for c in children) == ["0", "0", "1", "1"]
