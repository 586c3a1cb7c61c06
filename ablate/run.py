"""One job: compose -> data -> task -> model -> train -> evaluate -> track.

`run(cfg)` is what `python -m ablate` calls for every job. Config objects stop here: below it
every function takes plain values. A job never raises inside a sweep: it marks its MLflow run
FAILED, keeps the traceback as an artifact and returns its status, so the other jobs and the
end-of-sweep report go on.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ablate import figures, resume
from ablate.config import Config, ConfigError, flatten, to_object
from ablate.data import load_data, split
from ablate.evaluate import cluster_quality
from ablate.fingerprint import code_version, data_hash, fingerprint
from ablate.models.unet import count_parameters
from ablate.parallel import assign_resources
from ablate.redaction import redact_files
from ablate.tasks import Task, load_task
from ablate.tracking import (
    ENV_EXPERIMENT,
    ENV_PARENT,
    ENV_URI,
    FINGERPRINT,
    Tracker,
    mark_orphans,
    open_study,
    redact,
)
from ablate.train import evaluate, make_optimizer, resolve_device, seed_everything, snapshot_epochs, train

# set per job by the Optuna sweeper (hydra/sweeper=optuna, through hydra.job.env_set): the trial it is
ENV_TRIAL = "ABLATE_OPTUNA_TRIAL"


class Pruned(Exception):
    """Raised after an epoch when a search's pruner stops the job: an outcome, not a failure."""

    def __init__(self, epoch: int, message: str) -> None:
        super().__init__(message)
        self.epoch = epoch


def _trial_hook():
    """The per-epoch hook of the Optuna trial this job is (None outside a search: no Optuna import)."""
    if not os.environ.get(ENV_TRIAL):
        return None
    from hydra_plugins.ablate_optuna_sweeper._trial import TrialHook

    return TrialHook(os.environ[ENV_TRIAL])


def _hydra_job() -> tuple[Path, Path, list[str], bool]:
    """(launch dir, job output dir, the job's own overrides, multirun?) from Hydra, if running."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return Path.cwd(), Path.cwd() / "outputs" / "adhoc", [], False
    hc = HydraConfig.get()
    return Path(hc.runtime.cwd), Path(hc.runtime.output_dir), list(hc.overrides.task), hc.mode == RunMode.MULTIRUN


def _redact_saved_config(launch_dir: Path, out_dir: Path, multirun: bool) -> None:
    """Hydra saves every override, a tracking.uri's password included, in the job's .hydra/*.yaml
    and the sweep's multirun.yaml before the job starts: rewrite them without it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    names = ("config.yaml", "hydra.yaml", "overrides.yaml")
    saved = [] if hc.output_subdir is None else [out_dir / hc.output_subdir / name for name in names]
    if multirun:
        saved.append(launch_dir / hc.sweep.dir / "multirun.yaml")
    redact_files(saved)


def plain_config(cfg: DictConfig) -> DictConfig:
    """The job's config without Hydra's own node: what is logged and saved."""
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


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
    _redact_saved_config(launch_dir, out_dir, multirun)
    if os.environ.get(ENV_PARENT):  # inside a sweep: the parent made the store and experiment
        tracker, exp_id, parent = Tracker(os.environ[ENV_URI]), os.environ[ENV_EXPERIMENT], os.environ[ENV_PARENT]
    else:
        tracker, exp_id = open_study(
            conf.tracking.uri, conf.tracking.experiment, conf.tracking.artifact_dir, launch_dir
        )
        parent = None
    name = " ".join(o.split(".")[-1] for o in overrides) or f"{conf.model.name}-{conf.task.name}"
    if parent is None:  # a single run cleans up after killed ones itself (a sweep's parent does it)
        mark_orphans(tracker, exp_id, socket.gethostname())
    hook = _trial_hook()
    run_id = tracker.start(
        exp_id,
        name,
        parent,
        tags={
            "ablate.overrides": json.dumps(overrides),
            "ablate.data_spec": json.dumps(data_spec(conf)),
            "ablate.host": socket.gethostname(),
            "ablate.pid": os.getpid(),
            "ablate.heartbeat": time.time(),
            **(hook.tags if hook else {}),
        },
    )
    job = Job(conf, cfg, tracker, exp_id, run_id, out_dir, launch_dir, name, hook)
    try:
        tracker.log_params(run_id, flatten(plain_config(cfg)))
        metrics = job.execute()
    except Pruned as exc:  # stopped by the search's pruner: KILLED, and its checkpoint dropped so that
        tracker.set_tags(run_id, {"ablate.pruned": exc.epoch, "ablate.error": str(exc)})  # no rerun resumes it
        tracker.end(run_id, "KILLED")
        if job.plan is not None:
            resume.finish(job.plan)
        print(f"job pruned: {name}: {exc}", flush=True)
        return {"status": "PRUNED", "run_id": run_id, "epoch": exc.epoch}
    except BaseException as exc:  # noqa: BLE001 - the run must never be left RUNNING
        tracker.log_text(run_id, traceback.format_exc(), "error/traceback.txt")
        interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
        tracker.set_tags(run_id, {"ablate.error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]})
        tracker.end(run_id, "KILLED" if interrupted else "FAILED")
        if interrupted or not multirun:
            raise
        print(redact(f"job failed: {name}: {type(exc).__name__}: {exc}"), flush=True)
        return {"status": "FAILED", "run_id": run_id, "error": str(exc)}
    tracker.end(run_id, "FINISHED")
    if job.plan is not None:
        resume.finish(job.plan)
    if not multirun:
        print(json.dumps({k: round(v, 6) for k, v in sorted(metrics.items())}, indent=1))
        print(f"mlflow run: {run_id} ({redact(tracker.uri)})")
    status = "SKIPPED" if job.plan is not None and job.plan.action == "skip" else "FINISHED"
    return {"status": status, "run_id": run_id, "metrics": metrics}


class Job:
    """One job's stages after its run exists: prepare (data, model, fingerprint, skip/resume plan),
    train, then evaluate the latents and log the artifacts."""

    def __init__(
        self,
        conf: Config,
        cfg: DictConfig,
        tracker: Tracker,
        exp_id: str,
        run_id: str,
        out_dir: Path,
        launch_dir: Path,
        name: str,
        epoch_hook=None,
    ):
        self.conf, self.cfg, self.tracker, self.exp_id, self.run_id = conf, cfg, tracker, exp_id, run_id
        self.out_dir, self.launch_dir, self.name = out_dir, launch_dir, name
        self.epoch_hook = epoch_hook  # an Optuna trial's report-and-prune, after each epoch is logged
        self.plan: resume.Plan | None = None

    def execute(self) -> dict[str, float]:
        conf, tracker, run_id = self.conf, self.tracker, self.run_id
        tracker.set_tags(run_id, assign_resources(conf.trainer.threads))  # GPU and threads, before CUDA starts
        seed_everything(conf.seed)
        if conf.trainer.threads:
            torch.set_num_threads(conf.trainer.threads)
        device = resolve_device(conf.trainer.device.value)
        task = load_task(conf.task.impl)
        reason = task.check(conf.data.channels, conf.data.labelled)
        if reason:
            raise ConfigError(reason)
        train_set, eval_set = load_split(data_spec(conf))

        fp = fingerprint(flatten(plain_config(self.cfg)), code_version(), data_hash(train_set, eval_set))
        tracker.set_tags(run_id, {FINGERPRINT: fp, "ablate.code": code_version()})
        checkpoints = self.launch_dir / conf.tracking.checkpoint_dir
        self.plan = resume.plan(tracker, self.exp_id, run_id, fp, checkpoints, conf.tracking.resume)
        resume.adopt(tracker, self.plan, run_id)
        if self.plan.action == "skip":
            return tracker.run(run_id)["metrics"]
        resume.claim(self.plan, run_id)

        model = build_model(conf, task).to(device)
        counts = count_parameters(model)
        tracker.log_metrics(run_id, {"n_params": counts["trainable"], "n_params_keras": counts["keras_total"]})
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.yaml").write_text(redact(OmegaConf.to_yaml(plain_config(self.cfg))))
        tracker.log_artifact(run_id, self.out_dir / "config.yaml")

        tic = time.perf_counter()
        history = self.fit(model, task, train_set, eval_set, device)
        metrics = {
            "train_seconds": time.perf_counter() - tic,
            # the training and eval-loss passes alone (train_seconds less per-epoch logging, snapshots, checkpoints)
            "loop_seconds": sum(history.epoch_seconds),
            "n_params": counts["trainable"],
            "final_train_loss": history.train_loss[-1],
            "final_eval_loss": history.eval_loss[-1],
        }
        metrics.update(self.finalize(model, task, eval_set, device, history))
        tracker.log_metrics(run_id, metrics, step=conf.trainer.epochs)
        return metrics

    def fit(self, model, task: Task, train_set, eval_set, device: torch.device):
        conf, tracker, run_id = self.conf, self.tracker, self.run_id
        # a fixed set of eval images spread over the split (so over the classes) for progress grids
        picks = np.linspace(0, len(eval_set) - 1, min(conf.trainer.snapshots, len(eval_set))).astype(int)
        shown = eval_set.subset(picks)
        show_at = set(snapshot_epochs(conf.trainer.epochs))

        def on_epoch(epoch: int, values: dict[str, float]) -> None:
            tracker.log_metrics(run_id, values, step=epoch)
            for alive in (run_id, os.environ.get(ENV_PARENT)):  # orphan detection across hosts
                if alive:
                    tracker.set_tags(alive, {"ablate.heartbeat": time.time()})
            if epoch in show_at:
                shot = evaluate(model, task, shown, len(shown), device, keep=True)
                inputs, target = task.batch(shown.images, shown.labels)
                grid = figures.progress_grid(
                    task.show(inputs, shot.outputs, target), self.out_dir / "progress" / f"epoch_{epoch:03d}.png"
                )
                tracker.log_artifact(run_id, grid, "progress")
            if self.epoch_hook is not None:
                self.epoch_hook(epoch, values)

        t = conf.trainer
        opt = make_optimizer(model, t.optimizer.value, t.lr, t.momentum, t.weight_decay)
        return train(
            model,
            task,
            train_set,
            eval_set,
            epochs=t.epochs,
            batch_size=t.batch_size,
            optimizer=opt,
            device=device,
            seed=conf.seed,
            on_epoch=on_epoch,
            progress=t.progress,
            desc=self.name,
            checkpoint_path=self.plan.path if t.checkpoint else None,
            resume=self.plan.state,
            precision=t.precision,
            channels_last=t.channels_last,
            compile_model=t.compile,
        )

    def finalize(self, model, task: Task, eval_set, device: torch.device, history) -> dict[str, float]:
        conf, out_dir = self.conf, self.out_dir
        tic = time.perf_counter()
        final = evaluate(model, task, eval_set, 4 * conf.trainer.batch_size, device, keep=True)
        metrics = dict(final.quality)
        latents = final.latents.numpy()
        metrics["latent_dim"] = latents.shape[1]
        if conf.eval.latent and eval_set.labels is not None:
            metrics.update(
                cluster_quality(
                    latents,
                    eval_set.labels.numpy(),
                    conf.eval.kmeans_seeds,
                    conf.eval.n_init,
                    backend=conf.eval.kmeans.value,
                    device=device,
                )
            )
        metrics["eval_seconds"] = time.perf_counter() - tic  # the final pass over the eval split and its k-means

        labels = np.array([]) if eval_set.labels is None else eval_set.labels.numpy()
        np.savez_compressed(out_dir / "latents.npz", latents=latents, labels=labels)
        torch.save(model.state_dict(), out_dir / "model.pt")
        figures.loss_curve(history.train_loss, history.eval_loss, self.name, out_dir / "loss_curve.png")
        for file in ("latents.npz", "model.pt", "loss_curve.png"):
            self.tracker.log_artifact(self.run_id, out_dir / file)
        return metrics
