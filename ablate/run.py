"""One job, top to bottom: config -> data -> task -> model -> train -> evaluate -> track.

`run(cfg)` is what `python -m ablate` calls for every job. It reads the config once (Hydra's
objects stop here; every stage below takes plain values) and opens the job's MLflow run; `Job`
then calls the stages in order. A job never raises inside a sweep: it marks its run FAILED,
keeps the traceback as an artifact and returns its status, so the other jobs and the
end-of-sweep report go on.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ablate import components, figures, resume
from ablate.config import Config, ConfigError, flatten, to_object
from ablate.evaluate import cluster_quality
from ablate.fingerprint import code_version, data_hash, fingerprint
from ablate.hooks import Pruned, epoch_hook
from ablate.job_env import Where, hydra_job, plain_config, redact_saved_config
from ablate.models import count_parameters
from ablate.parallel import assign_resources
from ablate.tracking import ENV_EXPERIMENT, ENV_PARENT, ENV_URI, FINGERPRINT, Tracker, open_experiment, redact
from ablate.train import evaluate, make_optimizer, resolve_device, seed_everything, snapshot_epochs, train


def run(cfg: DictConfig) -> dict[str, Any]:
    conf = to_object(cfg)
    where = hydra_job()
    redact_saved_config(where)
    plain = plain_config(cfg)
    tracker, exp_id, parent = _open_tracking(conf, where)
    hook = epoch_hook()  # a sweeper's per-epoch callable (the Optuna trial's report-and-prune), or None
    name = " ".join(o.split(".")[-1] for o in where.overrides) or _default_name(conf)
    run_id = tracker.start(
        exp_id,
        name,
        parent,
        tags={
            "ablate.overrides": json.dumps(where.overrides),
            "ablate.data_spec": json.dumps(components.data_spec(conf.data)),
            "ablate.host": socket.gethostname(),
            "ablate.pid": os.getpid(),
            "ablate.heartbeat": time.time(),
            **getattr(hook, "tags", {}),
        },
    )
    job = Job(conf, flatten(plain), OmegaConf.to_yaml(plain), tracker, exp_id, run_id, where, name, hook)
    return _conclude(job)


def _open_tracking(conf: Config, where: Where) -> tuple[Tracker, str, str | None]:
    """(tracker, experiment id, parent run id): inside a sweep the parent process made the store,
    the experiment and the parent run; a single run opens them itself and closes orphans."""
    if os.environ.get(ENV_PARENT):
        return Tracker(os.environ[ENV_URI]), os.environ[ENV_EXPERIMENT], os.environ[ENV_PARENT]
    t = conf.tracking
    tracker, exp_id = open_experiment(t.uri, t.experiment, t.artifact_dir, where.launch_dir)
    resume.mark_orphans(tracker, exp_id, socket.gethostname())
    return tracker, exp_id, None


def _default_name(conf: Config) -> str:
    model = str(components.as_dict(conf.model).get("_target_", "model")).rsplit(".", 1)[-1].lower()
    return f"{model}-{components.as_dict(conf.task).get('name', 'task')}"


def _conclude(job: Job) -> dict[str, Any]:
    """Run the job and end its run with the status it earned; never leave it RUNNING."""
    tracker, run_id, name, multirun = job.tracker, job.run_id, job.name, job.where.multirun
    try:
        tracker.log_params(run_id, job.settings)
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
    """One job's stages after its run exists, in order: resources and seed, data and task, the
    skip/resume plan, the model, training, then the latents' evaluation and the artifacts."""

    def __init__(self, conf: Config, settings: dict[str, Any], config_yaml: str, tracker: Tracker, exp_id: str,
                 run_id: str, where: Where, name: str, epoch_hook=None):  # fmt: skip
        self.conf, self.settings, self.config_yaml = conf, settings, config_yaml  # settings: the flat config
        self.tracker, self.exp_id, self.run_id = tracker, exp_id, run_id
        self.where, self.out_dir, self.name = where, where.out_dir, name
        self.epoch_hook = epoch_hook  # called after each epoch is logged
        self.plan: resume.Plan | None = None

    def execute(self) -> dict[str, float]:
        conf, tracker, run_id = self.conf, self.tracker, self.run_id
        components.check_all(conf)  # preflight did, where the command ran; a worker may lack a module
        tracker.set_tags(run_id, assign_resources(conf.trainer.threads))  # GPU and threads, before CUDA starts
        seed_everything(conf.seed)
        device = resolve_device(conf.trainer.device.value)
        task = components.build_task(conf.task)
        data = components.data_spec(conf.data)
        reason = task.check(data["channels"], data["labelled"])
        if reason:
            raise ConfigError(reason)
        train_set, eval_set = components.load_split(data)
        if self.prepare(train_set, eval_set) == "skip":
            return tracker.run(run_id)["metrics"]

        model = self.build_model(task, data, device)
        tic = time.perf_counter()
        history = self.fit(model, task, train_set, eval_set, device)
        metrics = {
            "train_seconds": time.perf_counter() - tic,
            # the training and eval-loss passes alone (train_seconds less per-epoch logging, snapshots, checkpoints)
            "loop_seconds": sum(history.epoch_seconds),
            "n_params": count_parameters(model)["trainable"],
            "final_train_loss": history.train_loss[-1],
            "final_eval_loss": history.eval_loss[-1],
        }
        metrics.update(self.finalize(model, task, eval_set, device, history))
        tracker.log_metrics(run_id, metrics, step=conf.trainer.epochs)
        return metrics

    def prepare(self, train_set, eval_set) -> str:
        """Fingerprint the job (config, code, data) and decide: skip, resume or run."""
        tracker, run_id = self.tracker, self.run_id
        fp = fingerprint(self.settings, code_version(), data_hash(train_set, eval_set))
        tracker.set_tags(run_id, {FINGERPRINT: fp, "ablate.code": code_version()})
        checkpoints = self.where.launch_dir / self.conf.tracking.checkpoint_dir
        self.plan = resume.plan(tracker, self.exp_id, run_id, fp, checkpoints, self.conf.tracking.resume)
        resume.adopt(tracker, self.plan, run_id)
        if self.plan.action != "skip":
            resume.claim(self.plan, run_id)
        return self.plan.action

    def build_model(self, task, data: dict[str, Any], device: torch.device) -> torch.nn.Module:
        channels = data["channels"]
        model = components.build_model(
            self.conf.model, task.in_channels(channels), task.out_channels(channels), tuple(data["image_size"])
        ).to(device)
        counts = count_parameters(model)
        self.tracker.log_metrics(
            self.run_id, {"n_params": counts["trainable"], "n_params_keras": counts["keras_total"]}
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.yaml").write_text(redact(self.config_yaml))
        self.tracker.log_artifact(self.run_id, self.out_dir / "config.yaml")
        return model

    def fit(self, model, task, train_set, eval_set, device: torch.device):
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
        return train(
            model, task, train_set, eval_set,
            epochs=t.epochs, batch_size=t.batch_size, device=device, seed=conf.seed,
            optimizer=make_optimizer(model, t.optimizer.value, t.lr, t.momentum, t.weight_decay),
            on_epoch=on_epoch, progress=t.progress, desc=self.name,
            checkpoint_path=self.plan.path if t.checkpoint else None, resume=self.plan.state,
            precision=t.precision, channels_last=t.channels_last, compile_model=t.compile,
        )  # fmt: skip

    def finalize(self, model, task, eval_set, device: torch.device, history) -> dict[str, float]:
        conf, out_dir = self.conf, self.out_dir
        tic = time.perf_counter()
        final = evaluate(model, task, eval_set, 4 * conf.trainer.batch_size, device, keep=True)
        latents = final.latents.numpy()
        metrics = dict(final.quality)
        if conf.eval.latent and eval_set.labels is not None:  # purity, NMI, ARI and the feature dim
            e = conf.eval
            labels = eval_set.labels.numpy()
            metrics.update(cluster_quality(latents, labels, e.kmeans_seeds, e.n_init, e.kmeans.value, device))
        else:
            metrics["latent_dim"] = latents.shape[1]
        metrics["eval_seconds"] = time.perf_counter() - tic  # the final pass over the eval split and its k-means

        labels = np.array([]) if eval_set.labels is None else eval_set.labels.numpy()
        np.savez_compressed(out_dir / "latents.npz", latents=latents, labels=labels)
        torch.save(model.state_dict(), out_dir / "model.pt")
        figures.loss_curve(history.train_loss, history.eval_loss, self.name, out_dir / "loss_curve.png")
        for file in ("latents.npz", "model.pt", "loss_curve.png"):
            self.tracker.log_artifact(self.run_id, out_dir / file)
        return metrics
