"""One job = one grid cell, top to bottom: config -> tracking runs -> data -> task -> model ->
train -> evaluate -> track, for each of the cell's replicates (training seeds).

`run(cfg)` is what `python -m ablate` calls for every job. It reads the config once (Hydra's
objects stop here; every stage below takes plain values) and opens one MLflow run per replicate
(ablate/job/replicate.py). The data and the task are made once for the cell; the replicates then
train one after another or packed into one vectorized model (ablate/job/cell.py). A job never raises
inside a sweep: each run ends with the status it earned and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from typing import Any

import numpy as np
from omegaconf import DictConfig

from ablate.config import Config, ConfigError, flatten, to_object
from ablate.data import eval_too_small
from ablate.engine.hooks import epoch_hook
from ablate.engine.setup import resolve_device
from ablate.job import components, lines
from ablate.job.cell import train_cell
from ablate.job.context import Cell, JobContext
from ablate.job.contract import (
    DONE,
    ENV_EXPERIMENT,
    ENV_PARENT,
    ENV_URI,
    CellResult,
    ReplicateResult,
    cell_result,
    end_run,
    job_log_tag,
)
from ablate.job.env import Where, hydra_job, plain_config, redact_saved_config
from ablate.job.fingerprint import neutral
from ablate.job.precision import job_precision
from ablate.job.replicate import Replicate
from ablate.job.resources import assign_resources
from ablate.job.resume import mark_orphans
from ablate.tracking.experiments import open_experiment
from ablate.tracking.store import Tracker, redact


def run(cfg: DictConfig) -> CellResult:
    conf = to_object(cfg)
    where = hydra_job()
    redact_saved_config(where)
    tracker, exp_id, parent = _open_tracking(conf, where)
    arm = _arm(where.overrides, tracker.run(parent)["tags"] if parent else {}) or _default_name(conf)
    hook = epoch_hook()  # a sweeper's per-epoch callable (the Optuna trial's report-and-prune), or None
    plain = plain_config(cfg)
    job = JobContext(
        conf=conf,
        where=where,
        tracker=tracker,
        experiment=exp_id,
        parent=parent,
        arm=arm,
        config=plain,
        settings=flatten(plain),
        data=components.data_spec(conf.data),
        hook_tags=getattr(hook, "tags", {}),
        metrics=components.task_metrics(conf.task),
    )
    replicates = [Replicate(job, seed) for seed in conf.seeds()]
    print(redact(lines.job_start(arm, list(conf.seeds()), conf.trainer.epochs)), flush=True)
    tic = time.perf_counter()
    try:
        results = _train(conf, replicates, hook, job.data)
    except BaseException as exc:  # noqa: BLE001 - interrupted (or failed outside a sweep): no run left RUNNING
        status = "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "FAILED"
        for replicate in replicates:
            with contextlib.suppress(Exception):  # the store may be what failed: close every one we can
                replicate.end(status, reason=f"{type(exc).__name__}: {exc}")
        raise
    print(lines.job_end(arm, replicates, results, time.perf_counter() - tic), flush=True)
    result = cell_result(results)
    if not where.multirun and result["status"] in DONE:  # a single run shows its results
        print(lines.results(results, tracker.uri))
    return result


def record_failure(line: str, detail: str | None = None) -> None:
    """A sweep's job that failed outside its replicates (before their runs existed): one FAILED run
    under the sweep's parent says why (`detail`: the traceback, kept as an artifact), so the sweep
    counts it, exits 1 and its report shows it."""
    if not os.environ.get(ENV_PARENT):
        return
    with contextlib.suppress(Exception):  # the store may be what failed: the sweep's end says so
        tracker, where = Tracker(os.environ[ENV_URI]), hydra_job()
        tags = {"ablate.error": line[:500], "ablate.overrides": json.dumps(where.overrides), **job_log_tag()}
        name = redact(" ".join(where.overrides)) or "job"
        run_id = tracker.start(os.environ[ENV_EXPERIMENT], name, os.environ[ENV_PARENT], tags=tags)
        end_run(tracker, run_id, "FAILED", detail)


def _open_tracking(conf: Config, where: Where) -> tuple[Tracker, str, str | None]:
    """(tracker, experiment id, parent run id): inside a sweep the parent process made the store,
    the experiment and the parent run; a single run opens them itself and closes orphans."""
    if os.environ.get(ENV_PARENT):
        return Tracker(os.environ[ENV_URI]), os.environ[ENV_EXPERIMENT], os.environ[ENV_PARENT]
    t = conf.tracking
    tracker, exp_id = open_experiment(t.uri, t.experiment, t.artifact_dir, where.launch_dir)
    mark_orphans(tracker, exp_id, socket.gethostname())
    return tracker, exp_id, None


def _arm(overrides: list[str], parent_tags: dict[str, str]) -> str:
    """The arm's name: its values of the sweep's factors ("skip=True bottleneck=False"); every
    override for a job outside a sweep."""
    pairs = [tuple(o.lstrip("+~").split("=", 1)) for o in overrides if "=" in o]
    pairs = [(k, v) for k, v in pairs if not neutral(k)]  # never tracking.uri (credentials) and the like
    if "ablate.factors" in parent_tags:  # seeds are replicates, not arms
        factors = {f.lstrip("+~") for f in json.loads(parent_tags["ablate.factors"])} - {"seed"}
        pairs = [(k, v) for k, v in pairs if k in factors]
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in pairs)


def _default_name(conf: Config) -> str:
    model = str(components.as_dict(conf.model).get("_target_", "model")).rsplit(".", 1)[-1].lower()
    return f"{model}-{components.as_dict(conf.task).get('name', 'task')}"


def _train(conf: Config, replicates: list[Replicate], hook, data: dict[str, Any]) -> list[ReplicateResult]:
    """The cell's shared stages once (resources, device, task, data), then every replicate."""
    try:
        components.check_all(conf)  # preflight did, where the command ran; a worker may lack a module
        resources = assign_resources(conf.trainer.threads)  # GPU and threads, before CUDA starts
        device = resolve_device(conf.trainer.device.value)
        task = components.build_task(conf.task)
        reason = task.check(data["channels"], data["labelled"])
        if reason:
            raise ConfigError(reason)
        precision = job_precision(conf.trainer.precision, device)
        train_set, eval_set = components.load_split(data)
        reason = eval_too_small(train_set, eval_set) if conf.eval.latent else None
        if reason:
            raise ConfigError(reason)
    except BaseException as exc:  # noqa: BLE001 - every replicate's run ends with the same reason
        return [replicate.fail(exc) for replicate in replicates]
    # a fixed set of eval images spread over the split (so over the classes) for progress grids
    picks = np.linspace(0, len(eval_set) - 1, min(conf.trainer.snapshots, len(eval_set))).astype(int)
    shown = eval_set.subset(picks)
    cell = Cell(conf, task, data, train_set, eval_set, shown, device, precision, resources)
    return train_cell(cell, replicates, hook)
