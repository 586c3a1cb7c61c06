"""One job: compose -> data -> task -> model -> train -> evaluate -> track.

`run(cfg)` is what `python -m ablate` calls for every job. Config objects stop here: below it
every function takes plain values. A job never raises inside a sweep: it marks its MLflow run
FAILED, keeps the traceback as an artifact and returns its status, so the other jobs and the
end-of-sweep report go on.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ablate import figures
from ablate.config import Config, ConfigError, flatten, to_object
from ablate.data import load_data, split
from ablate.evaluate import cluster_quality
from ablate.models.unet import count_parameters
from ablate.tasks import Task, load_task
from ablate.tracking import ENV_EXPERIMENT, ENV_PARENT, ENV_URI, Tracker, open_study
from ablate.train import make_optimizer, predict, resolve_device, seed_everything, snapshot_epochs, train


def _hydra_job() -> tuple[Path, Path, list[str], bool]:
    """(launch dir, job output dir, the job's own overrides, multirun?) from Hydra, if running."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return Path.cwd(), Path.cwd() / "outputs" / "adhoc", [], False
    hc = HydraConfig.get()
    return Path(hc.runtime.cwd), Path(hc.runtime.output_dir), list(hc.overrides.task), hc.mode == RunMode.MULTIRUN


def data_spec(conf: Config) -> dict[str, Any]:
    return flatten(OmegaConf.structured(conf.data))


def load_split(spec: dict[str, Any]):
    """Load a dataset from its flat data.* spec and cut the fixed train/eval split."""
    loaded = load_data(**spec)
    if isinstance(loaded, tuple):  # the dataset defines its own eval set (e.g. held-out test images)
        return loaded
    return split(loaded, spec["eval_fraction"], spec["split_seed"], spec["limit"])


def build_model(conf: Config, task: Task) -> torch.nn.Module:
    import importlib

    module, _, cls = conf.model.impl.rpartition(".")
    return getattr(importlib.import_module(module), cls)(
        in_channels=task.in_channels(conf.data.channels),
        out_channels=task.out_channels(conf.data.channels),
        channels=tuple(conf.model.channels),
        middle=conf.model.middle,
        skip=conf.model.skip,
        bottleneck=conf.model.bottleneck,
        bottleneck_dim=conf.model.bottleneck_dim,
        input_size=tuple(conf.data.image_size),
        final_activation=task.final_activation,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    conf = to_object(cfg)
    launch_dir, out_dir, overrides, multirun = _hydra_job()
    if os.environ.get(ENV_PARENT):  # inside a sweep: the parent made the store and experiment
        tracker, exp_id, parent = Tracker(os.environ[ENV_URI]), os.environ[ENV_EXPERIMENT], os.environ[ENV_PARENT]
    else:
        tracker, exp_id = open_study(
            conf.tracking.uri, conf.tracking.experiment, conf.tracking.artifact_dir, launch_dir
        )
        parent = None
    name = " ".join(o.split(".")[-1] for o in overrides) or f"{conf.model.name}-{conf.task.name}"
    run_id = tracker.start(
        exp_id,
        name,
        parent,
        tags={"ablate.overrides": json.dumps(overrides), "ablate.data_spec": json.dumps(data_spec(conf))},
    )
    try:
        metrics = _execute(conf, cfg, tracker, run_id, out_dir, name)
    except BaseException as exc:  # noqa: BLE001 - the run must never be left RUNNING
        tracker.log_text(run_id, traceback.format_exc(), "error/traceback.txt")
        interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
        tracker.set_tags(run_id, {"ablate.error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]})
        tracker.end(run_id, "KILLED" if interrupted else "FAILED")
        if interrupted or not multirun:
            raise
        print(f"job failed: {name}: {type(exc).__name__}: {exc}", flush=True)
        return {"status": "FAILED", "run_id": run_id, "error": str(exc)}
    tracker.end(run_id, "FINISHED")
    if not multirun:
        print(json.dumps({k: round(v, 6) for k, v in sorted(metrics.items())}, indent=1))
        print(f"mlflow run: {run_id} ({tracker.uri})")
    return {"status": "FINISHED", "run_id": run_id, "metrics": metrics}


def _execute(conf: Config, cfg: DictConfig, tracker: Tracker, run_id: str, out_dir: Path, name: str) -> dict:
    seed_everything(conf.seed)
    if conf.trainer.threads:
        torch.set_num_threads(conf.trainer.threads)
    device = resolve_device(conf.trainer.device.value)
    task = load_task(conf.task.impl)
    reason = task.check(conf.data.channels, conf.data.labelled)
    if reason:
        raise ConfigError(reason)
    train_set, eval_set = load_split(data_spec(conf))
    model = build_model(conf, task).to(device)
    counts = count_parameters(model)

    plain = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    tracker.log_params(run_id, flatten(plain))
    tracker.log_metrics(run_id, {"n_params": counts["trainable"], "n_params_keras": counts["keras_total"]})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(plain))
    tracker.log_artifact(run_id, out_dir / "config.yaml")

    # a fixed set of eval images spread over the split (so over the classes) for progress grids
    picks = np.linspace(0, len(eval_set) - 1, min(conf.trainer.snapshots, len(eval_set))).astype(int)
    shown = eval_set.subset(picks)
    show_at = set(snapshot_epochs(conf.trainer.epochs))

    def on_epoch(epoch: int, values: dict[str, float]) -> None:
        tracker.log_metrics(run_id, values, step=epoch)
        if epoch in show_at:
            outputs, _, _ = predict(model, task, shown, len(shown), device)
            inputs, target = task.batch(shown.images, shown.labels)
            grid = figures.progress_grid([inputs, outputs, target], out_dir / "progress" / f"epoch_{epoch:03d}.png")
            tracker.log_artifact(run_id, grid, "progress")

    opt = make_optimizer(
        model, conf.trainer.optimizer.value, conf.trainer.lr, conf.trainer.momentum, conf.trainer.weight_decay
    )
    tic = time.perf_counter()
    history = train(
        model,
        task,
        train_set,
        eval_set,
        epochs=conf.trainer.epochs,
        batch_size=conf.trainer.batch_size,
        optimizer=opt,
        device=device,
        seed=conf.seed,
        on_epoch=on_epoch,
        progress=conf.trainer.progress,
        desc=name,
    )
    metrics = {
        "train_seconds": time.perf_counter() - tic,
        "n_params": counts["trainable"],
        "final_train_loss": history.train_loss[-1],
        "final_eval_loss": history.eval_loss[-1],
    }

    _, latents, _ = predict(model, task, eval_set, 4 * conf.trainer.batch_size, device)
    latents_np = latents.numpy()
    metrics["latent_dim"] = latents_np.shape[1]
    if eval_set.labels is not None:
        quality = cluster_quality(latents_np, eval_set.labels.numpy(), conf.eval.kmeans_seeds, conf.eval.n_init)
        metrics.update(quality)
    tracker.log_metrics(run_id, metrics, step=conf.trainer.epochs)

    labels = np.array([]) if eval_set.labels is None else eval_set.labels.numpy()
    np.savez_compressed(out_dir / "latents.npz", latents=latents_np, labels=labels)
    torch.save(model.state_dict(), out_dir / "model.pt")
    figures.loss_curve(history.train_loss, history.eval_loss, name, out_dir / "loss_curve.png")
    for file in ("latents.npz", "model.pt", "loss_curve.png"):
        tracker.log_artifact(run_id, out_dir / file)
    return metrics
