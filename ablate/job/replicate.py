"""One replicate of a grid cell (one training seed): its MLflow run and its stages, in order:
the skip/resume plan, the model, what each epoch logs (training itself is the engine's loop,
driven by ablate/job/cell.py and ablate/job/pack.py), then its final metrics (the final
evaluation: ablate/evaluate/final.py) and artifacts.

A replicate never raises inside a sweep: `conclude` ends its run with the status it earned
(FINISHED, FAILED with the traceback as an artifact, KILLED when pruned or interrupted) and
returns it, so the other replicates, the other jobs and the end-of-sweep report go on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from ablate.config.metrics import Registry
from ablate.engine.evaluation import eval_batch_size, evaluate
from ablate.engine.hooks import Pruned
from ablate.engine.setup import seed_everything
from ablate.engine.train import History
from ablate.evaluate.final import final_evaluation
from ablate.job import components, figures, resume, stopping
from ablate.job.context import JobContext
from ablate.job.contract import ENV_PARENT, ReplicateResult, job_log_tag
from ablate.job.env import Where
from ablate.job.fingerprint import code_version, data_hash, fingerprint
from ablate.job.precision import RESOLVED
from ablate.tasks.metrics import BUILTIN
from ablate.tracking.describe import key_first, run_description
from ablate.tracking.store import FINGERPRINT, IDENTITY, PARENT_TAG, SUPERSEDED, redact
from ablate.tracking.tags import DATA_SPEC, HEARTBEAT, METRICS, TRACEBACK
from ablate.util import locks


class Replicate:
    def __init__(self, job: JobContext, seed: int) -> None:
        """The replicate of `job` with its own seed in its params and in the config it saves (the
        config that reproduces it alone: replicates=1)."""
        conf, where = job.conf, job.where
        self.job, self.conf, self.seed, self.tracker = job, conf, seed, job.tracker
        many = conf.replicates > 1
        alone = copy.deepcopy(job.config)
        alone.seed, alone.replicates = seed, 1
        self.config_yaml = OmegaConf.to_yaml(alone)
        self.settings = {**job.settings, "seed": seed}
        self.name = redact(f"{job.arm} seed={seed}" if many else job.arm)
        self.tags = {**start_tags(where, job.data, seed, seed - conf.seed, conf.replicates), **job.hook_tags}
        self.tags[METRICS] = json.dumps([m.as_dict() for m in job.metrics])  # the report reads its task's metrics
        self.registry = Registry(BUILTIN, job.metrics)  # as the report and the console read it
        self.out_dir = where.out_dir / f"seed_{seed}" if many else where.out_dir
        self.run_id: str | None = None  # opened by prepare (or by fail, when the job failed before)
        self.plan: resume.Plan | None = None
        self.lock: locks.Lock | None = None  # held while this process trains it (ablate/util/locks.py)
        self.ended = self.reopened = self.keep_checkpoint = False
        self.resumed_epoch: int | None = None  # the checkpoint's epoch it went on from (its own, or its pack's)
        self.epochs: dict[int, dict[str, float]] = {}  # what on_epoch logged, for a pack's mean

    # -- stages -----------------------------------------------------------------------------------
    def open(self, source: str | None = None) -> None:
        """The replicate's run: `source` reopened (this sweep's own unfinished run, or the run a
        checkpoint belongs to), else a new run, a direct child of the sweep's parent."""
        if self.run_id is not None:
            return
        alive = resume.alive_tags()
        if source is None and not getattr(self.plan, "continues", None):  # this sweep's own unfinished run, if any
            try:
                stale = resume.stale_runs(self.tracker, self.job.experiment, self.job.parent, self.identity)
            except Exception:  # noqa: BLE001 - the store may be what failed: a new run still says why
                stale = []
            stale = [r for r in stale if r["params"].get(RESOLVED) in (None, self.settings.get(RESOLVED))]
            source = stale[0]["run_id"] if stale else None  # never one that trained in another precision
        if source is None:
            self.run_id = self.tracker.start(
                self.job.experiment, self.name, self.job.parent, tags={**self.tags, **alive}
            )
        else:
            self.run_id, self.reopened = source, True
            self.tracker.reopen(source, alive)
            self._refer(self.tracker.run(source))
        self.log_params(self.settings)

    @property
    def identity(self) -> dict[str, str]:
        """The tag that names this replicate within its sweep (a hash: searchable whatever the
        overrides' quotes)."""
        return {IDENTITY: self.tags[IDENTITY]}

    def log_params(self, params: dict[str, Any]) -> None:
        """Params the run does not have yet (a reopened run keeps the values it was started with)."""
        have = self.tracker.run(self.run_id)["params"] if self.reopened else {}
        self.tracker.log_params(self.run_id, {k: v for k, v in params.items() if k not in have})

    def _refer(self, run: dict[str, Any]) -> None:
        """A run of another sweep counts in this one by reference."""
        parent = self.job.parent
        if parent is not None and run["tags"].get(PARENT_TAG) != parent:
            self.tracker.refer(parent, run["run_id"])

    def prepare(self, train_set, eval_set, resolved: dict[str, Any]) -> str:
        """Fingerprint the replicate (its config with its seed and what the job `resolved` from
        it, such as trainer.precision=auto's choice; the code; the data), decide skip (a FINISHED
        run has it), resume (a checkpoint has it) or run, and open its run."""
        self.settings = {**self.settings, **resolved}  # logged as params with the config's
        digest = data_hash(train_set, eval_set)
        fp = fingerprint(self.settings, code_version(), digest)
        job = self.job
        checkpoints = job.where.launch_dir / self.conf.tracking.checkpoint_dir
        enabled = self.conf.tracking.resume
        if enabled:  # one owner per replicate: the same sweep started twice trains it once (the other waits)
            wait = lambda: print(f"{self.name}: another process trains it; waiting", flush=True)  # noqa: E731
            self.lock = locks.acquire(checkpoints / "claims" / f"{fp}.lock", wait)
        ceiling = stopping.ceiling(self.conf.trainer)
        self.plan = resume.plan(
            self.tracker, job.experiment, job.parent, fp, checkpoints, enabled, self.identity, ceiling=ceiling
        )
        if self.plan.action == "skip":  # the finished run is the result: nothing new in the store
            locks.release(self.lock)
            self.run_id, self.ended = self.plan.source, True
            self._refer(self.tracker.run(self.run_id))
            for stale in resume.stale_runs(self.tracker, job.experiment, job.parent, self.identity):
                self.tracker.set_tags(stale["run_id"], {SUPERSEDED: self.run_id})  # out of the sweep's runs
            return "skip"
        self.open(self.plan.source)
        self.tracker.set_tags(self.run_id, {FINGERPRINT: fp})
        if not self.reopened:
            spec = json.loads(self.tags[DATA_SPEC])
            self.tracker.log_dataset(self.run_id, spec, digest, {"train": len(train_set), "eval": len(eval_set)})
        if self.plan.action == "resume":
            self.resumed_epoch = int(self.plan.state["epoch"])
            self.tracker.set_tags(self.run_id, {"ablate.resumed_epoch": self.resumed_epoch})
            resume.carry_over(self.tracker, self.plan, self.run_id, list(self.registry.per_epoch))
        resume.record_owner(self.plan, self.run_id)
        return self.plan.action

    def build_model(self, task, data: dict[str, Any], device: torch.device, log: bool = True) -> torch.nn.Module:
        """Its model, initialised by its seed; `log`: its config saved with its run (not for a run
        that has finished: a frozen member of a resumed pack, ablate/job/pack.py)."""
        seed_everything(self.seed)  # the weights' initial values are the seed's
        channels = data["channels"]
        model = components.build_model(
            self.conf.model, task.in_channels(channels), task.out_channels(channels), tuple(data["image_size"])
        ).to(device)
        if log:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.yaml").write_text(redact(self.config_yaml))
            self.tracker.log_artifact(self.run_id, self.out_dir / "config.yaml")
        return model

    def on_epoch(self, model, task, shown, device: torch.device) -> Callable[[int, dict[str, float]], None]:
        """What happens after each epoch: metrics logged, heartbeats, progress grids at the
        article's epochs."""
        tracker, run_id, show_at = self.tracker, self.run_id, set(figures.snapshot_epochs(self.conf.trainer.epochs))

        def on_epoch(epoch: int, values: dict[str, float]) -> None:
            first = sorted(values, key=lambda k: k != "eval_loss")  # what the UI's compare view plots first
            tracker.log_metrics(run_id, {k: values[k] for k in first}, step=epoch)
            self.epochs[epoch] = values
            for alive in (run_id, os.environ.get(ENV_PARENT)):  # orphan detection across hosts
                if alive:
                    tracker.set_tags(alive, {HEARTBEAT: time.time()})
            if epoch in show_at:
                self.snapshot(model, task, shown, device, epoch)

        return on_epoch

    def snapshot(self, model, task, shown, device: torch.device, epoch: int) -> None:
        """The progress grid after `epoch` (the article's epochs, the last, the one it stopped at)."""
        shot = evaluate(model, task, shown, len(shown), device, keep=True)
        inputs, target = task.batch(shown.images, shown.labels)
        path = self.out_dir / "progress" / f"epoch_{epoch:03d}.png"
        grid = figures.progress_grid(task.show(inputs, shot.outputs, target), path, title=f"{self.name}: epoch {epoch}")
        self.tracker.log_artifact(self.run_id, grid, "progress")

    def finalize(
        self, model, task, eval_set, device, history: History, seconds: float, stopped_at: int | None = None
    ) -> dict[str, float]:
        """The trained model's final metrics (its timings and size, its final losses, how long it
        trained and why: ablate/job/stopping.py; then its final evaluation: ablate/evaluate/final.py),
        logged with its artifacts at the step of its last epoch (`stopped_at`: where it converged)."""
        conf, out_dir = self.conf, self.out_dir
        metrics = stopping.training_metrics(model, history, seconds, device)
        tic = time.perf_counter()
        batch = eval_batch_size(conf.trainer.batch_size)
        final = final_evaluation(model, task, eval_set, batch, device, conf.eval)
        metrics.update(final.metrics)
        metrics["eval_seconds"] = time.perf_counter() - tic  # the final pass over the eval split and its k-means

        np.savez_compressed(out_dir / "latents.npz", latents=final.latents, labels=final.labels)
        torch.save(model.state_dict(), out_dir / "model.pt")
        figures.loss_curve(history.train_loss, history.eval_loss, self.name, out_dir / "loss_curve.png")
        for file in ("latents.npz", "model.pt", "loss_curve.png"):
            self.tracker.log_artifact(self.run_id, out_dir / file)
        metrics = key_first(metrics, self.registry)  # where the run's page lists them first
        self.tracker.log_metrics(self.run_id, metrics, step=len(history.eval_loss))  # its last epoch
        self.tracker.set_tags(self.run_id, {stopping.STOP: stopping.stop_line(conf.trainer, stopped_at)})
        # its last checkpoint is where a higher ceiling goes on from (ablate/job/resume.py)
        self.keep_checkpoint = stopping.ceiling(conf.trainer) is not None and stopped_at is None
        self.tracker.describe(self.run_id, run_description(self.name, metrics, self.registry))
        return metrics

    # -- the run's end ----------------------------------------------------------------------------
    def conclude(self, body: Callable[[], dict[str, float]]) -> ReplicateResult:
        """Run `body` (the replicate's stages) and end the run with the status it earned."""
        try:
            metrics = body()
        except Pruned as exc:  # stopped by the search's pruner: KILLED, its checkpoint dropped (no rerun resumes it)
            return self.pruned(exc)
        except BaseException as exc:  # noqa: BLE001 - the run must never be left RUNNING
            return self.fail(exc)
        self.end("FINISHED", release=False)
        try:  # before the lock goes: a waiting process may go on from what it keeps
            if self.plan is not None:
                resume.finish(self.plan, keep=self.keep_checkpoint)
        finally:
            locks.release(self.lock)
        status = "SKIPPED" if self.plan is not None and self.plan.action == "skip" else "FINISHED"
        return {"status": status, "run_id": self.run_id, "seed": self.seed, "metrics": metrics}

    def pruned(self, exc: Pruned) -> ReplicateResult:
        self.tracker.set_tags(self.run_id, {"ablate.pruned": exc.epoch, "ablate.error": str(exc)})
        self.end("KILLED")
        if self.plan is not None:  # never resumed; a lower ceiling's kept checkpoint stays
            resume.finish(self.plan, drop_kept=False)
        return {"status": "PRUNED", "run_id": self.run_id, "seed": self.seed, "epoch": exc.epoch}

    def fail(self, exc: BaseException, alone: bool = True) -> ReplicateResult:
        """FAILED (KILLED when interrupted) with the traceback as an artifact; an interrupt, or an
        error outside a sweep that ends the job (`alone`: not one masked replicate of a pack), is
        raised again once the run is closed."""
        interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
        result = {"status": "FAILED", "run_id": self.run_id, "seed": self.seed, "error": f"{type(exc).__name__}: {exc}"}
        if self.plan is not None and self.plan.action == "skip":  # the run is another's finished one: untouched
            if interrupted:
                raise exc
            return result
        try:
            self.open()  # the job failed before its replicates' runs were opened: open them to say why
            self.end("KILLED" if interrupted else "FAILED")  # close first: logging may be what failed
        except Exception:  # noqa: BLE001 - the store may be what failed
            locks.release(self.lock)  # the lock never outlives the attempt
        result["run_id"] = self.run_id
        try:
            self.tracker.set_tags(self.run_id, {"ablate.error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]})
            self.tracker.log_text(self.run_id, "".join(traceback.format_exception(exc)), TRACEBACK)
        except Exception:  # noqa: BLE001 - the store may be what failed; the run is closed already
            pass
        if interrupted or (alone and not self.job.where.multirun):
            raise exc
        return result

    def end(self, status: str, reason: str | None = None, release: bool = True) -> None:
        """Close the run (once); `reason`: why it did not finish, as its ablate.error tag; `release`:
        the replicate's lock too (else the caller releases it)."""
        try:
            if not self.ended and self.run_id is not None:
                self.ended = True
                self.tracker.end(self.run_id, status)
                if reason:  # after the end: logging may be what failed
                    self.tracker.set_tags(self.run_id, {"ablate.error": reason.splitlines()[0][:500]})
        finally:
            if release:  # after the run's end: a waiting process then finds it finished
                locks.release(self.lock)


def start_tags(where: Where, data: dict[str, Any], seed: int, index: int, replicates: int) -> dict[str, Any]:
    """The tags a replicate's run starts with (before anything can fail)."""
    return {
        "ablate.seed": seed,  # what a user reads first: the UI lists a run's tags as set
        "ablate.replicate": f"{index + 1}/{replicates}",
        "ablate.overrides": json.dumps(where.overrides),
        "ablate.code": code_version(),
        **job_log_tag(),  # a cluster job's log file, named by a report when the run does not finish
        DATA_SPEC: json.dumps(data),
        IDENTITY: hashlib.sha256(json.dumps([where.overrides, seed]).encode()).hexdigest()[:20],
    }


def mean_of(group: list[Replicate], hook: Callable | None) -> Callable | None:
    """`hook` called with each metric's mean over the group's replicates that logged that epoch."""
    if hook is None:
        return None

    def mean_hook(epoch: int, values: dict[str, float]) -> None:
        logged = [rep.epochs[epoch] for rep in group if epoch in rep.epochs]
        hook(epoch, {k: sum(v[k] for v in logged) / len(logged) for k in values if all(k in v for v in logged)})

    return mean_hook
