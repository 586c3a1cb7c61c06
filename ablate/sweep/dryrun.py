"""`python -m ablate -m ... --dry-run`: the jobs a command would launch, which would be skipped or
resumed, and a time estimate from earlier runs of the same study. Reads the store, writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from ablate.config import flatten, to_object
from ablate.config.root import AUTO
from ablate.engine.setup import resolve_device
from ablate.job import resume, stopping
from ablate.job.components import as_dict, data_spec, load_split
from ablate.job.fingerprint import code_version, data_hash, fingerprint
from ablate.job.precision import RESOLVED, job_precision
from ablate.sweep.preflight import JobSpec
from ablate.tracking.store import Tracker, resolve_uri
from ablate.tracking.tags import get as tag

OVERHEAD_S = 5.0  # per job: start-up, data, k-means, artifacts (measured on a 2-core CPU)
# with no earlier run to learn from: seconds per replicate-epoch per training image-pixel, measured
# on a 2-core CPU with the mnist preset (the 4-arm x 3-replicate x 4-epoch quick start: 143 s).
# A rough guide: a GPU, a wider model or another CPU changes it; earlier runs replace it.
CALIBRATION_S = 8.2e-7


def _store(uri: str) -> Tracker | None:
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).exists():
        return None  # nothing ran here yet, and a dry run must not create the database
    return Tracker(uri)


def _seconds_per_epoch(tracker: Tracker, exp_id: str, same: dict[str, str]) -> float | None:
    """Mean training seconds per epoch of the finished runs with these param values."""
    rates = [
        r["metrics"]["train_seconds"] / float(r["params"]["trainer.epochs"])
        for r in tracker.search(exp_id, params=same, status="FINISHED")
        if "train_seconds" in r["metrics"] and tag(r["tags"], resume.REUSED) is None
    ]
    return sum(rates) / len(rates) if rates else None


def _alike(jobs: list[JobSpec]) -> dict[str, str]:
    """The params an earlier run must share to estimate these jobs' time: the data, the task and the
    model's settings that every job of the command shares (not the ablation switches it varies)."""
    models = [{f"model.{k}": str(v) for k, v in as_dict(to_object(j.cfg).model).items()} for j in jobs if not j.reason]
    return {k: v for k, v in models[0].items() if all(m.get(k) == v for m in models)} if models else {}


def _plans(conf, job: JobSpec, data: str, tracker: Tracker | None, found: str | None, launch_dir: Path) -> list:
    """Each replicate's plan (skip, resume or run), from its own fingerprint (its seed's)."""
    plans = []
    checkpoints, settings = launch_dir / conf.tracking.checkpoint_dir, flatten(job.cfg)
    # what the job will resolve trainer.precision to (on this machine, as the sweep would)
    settings[RESOLVED] = _precision(conf)
    # replicates=auto: round 1's seeds (the later rounds depend on what round 1 finds)
    seeds = range(conf.seed, conf.seed + conf.sequential.min) if conf.replicates == AUTO else conf.seeds()
    ceiling = stopping.ceiling(conf.trainer)
    for seed in seeds:
        fp = fingerprint({**settings, "seed": seed}, code_version(), data)
        if found:
            plan = resume.plan(
                tracker, found, None, fp, checkpoints, conf.tracking.resume, look_only=True, ceiling=ceiling
            )
        else:
            plan = resume.plan_offline(fp, checkpoints, conf.tracking.resume, look_only=True, ceiling=ceiling)
        plans.append(plan)
    return plans


def _precision(conf) -> str:
    try:
        device = resolve_device(conf.trainer.device.value)
    except RuntimeError:  # trainer.device=cuda where the sweep starts without one: each job decides
        return conf.trainer.precision
    return job_precision(conf.trainer.precision, device)


def _line(plans: list, label: str, rate: float, epochs: int) -> tuple[float, str]:
    """(the estimate, the job's line): skip when every replicate would be skipped."""
    if all(p.action == "skip" for p in plans):
        return 0.0, f"skip     {'0s':>8}  {label}  (finished as run {plans[0].source[:8]})"
    left = sum(epochs - (p.state["epoch"] if p.state else 0) for p in plans if p.action != "skip")
    estimate = rate * left + OVERHEAD_S
    shown = f"{estimate:.0f}s"
    resumed = [p for p in plans if p.action == "resume"]
    note = f"  (resume after epoch {resumed[0].state['epoch']})" if resumed else ""
    skipped = sum(p.action == "skip" for p in plans)
    note += f"  ({skipped} of {len(plans)} replicates finished already)" if skipped else ""
    return estimate, f"{'resume' if resumed else 'run':<8} {shown:>8}  {label}{note}"


def describe(jobs: list[JobSpec], launch_dir: Path | None = None) -> str:
    launch_dir = launch_dir or Path.cwd()
    lines, total, calibrated, data_cache = [], 0.0, 0, {}
    alike = _alike(jobs)
    for i, job in enumerate(jobs):
        label = " ".join(job.overrides) or "(defaults)"
        if job.reason:
            lines.append(f"#{i:<3} fail     {'-':>8}  {label}  ({job.reason})")
            continue
        conf = to_object(job.cfg)
        spec = data_spec(conf.data)
        key = json.dumps(spec, sort_keys=True)
        if key not in data_cache:
            train, held_out = load_split(spec)
            data_cache[key] = (data_hash(train, held_out), train.images.numel())
        digest, image_pixels = data_cache[key]
        tracker = _store(resolve_uri(conf.tracking.uri, launch_dir))
        found = tracker and tracker.experiment_id(conf.tracking.experiment)
        plans = _plans(conf, job, digest, tracker, found, launch_dir)
        same = {**alike, "data.name": str(spec["name"]), "task.name": str(as_dict(conf.task).get("name"))}
        rate = _seconds_per_epoch(tracker, found, same) if found else None
        if rate is None:
            rate = CALIBRATION_S * image_pixels
            calibrated += not all(p.action == "skip" for p in plans)
        estimate, what = _line(plans, label, rate, conf.trainer.epochs)
        lines.append(f"#{i:<3} {what}")
        total += estimate
    runs = sum(1 for line in lines if " skip " not in line)
    summary = f"{len(jobs)} jobs, {len(jobs) - runs} skipped; estimated {total / 60:.1f} min"
    if calibrated:
        summary += f" ({calibrated} job(s) from the built-in 2-core CPU calibration: no earlier run to learn from)"
    if any(not j.reason and j.cfg.replicates == AUTO for j in jobs):
        summary += (
            "; replicates=auto: round 1 only (sequential.min seeds), later rounds add seeds where a claim is open"
        )
    return "\n".join([*lines, summary])
