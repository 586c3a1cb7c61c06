"""The contract between a job and whoever launched it (the sweep's process, a launcher plugin, a
sweeper plugin), in one place:

- the environment a sweep's parent process hands its jobs (in-process, joblib or SLURM alike):
  ENV_URI (the tracking store), ENV_PARENT (the sweep's parent run), ENV_EXPERIMENT (its
  experiment id), and ENV_JOB_LOG (the job's own log file, set by a launcher inside the job and
  kept as the runs' ablate.job_log tag: `job_log_tag`). They are defined here, not in the
  tracking layer: no tracking code reads them, and everything above the job layer imports them
  from this module;
- what a job answers: a `CellResult` (a TypedDict: a plain, picklable dict that a sweeper reads
  by key: "status", "metrics", "replicates", "run_id", "run_ids", "error", "epoch"), built from its
  replicates' `ReplicateResult`s by `cell_result`, or, for a cell that never got that far,
  `unfinished(status, error)`;
- closing what a job that never answered left open. A sweep's cell whose job never answered: a
  cluster job cancelled (`scancel`), out of time, killed with its node, or failed before ablate's
  own error handling ran (a node without the package, an unpicklable config). The launcher that
  submitted it calls `close_cell` from the sweep's process, so none of the cell's runs stays
  RUNNING and the report shows the hole with the reason and the job's log. A job that answered
  closed its own runs; this only fills in the rest. `abandon_sweep`: the scheduler refused the
  sweep's jobs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import NoReturn, TypedDict

import numpy as np

from ablate.tracking.store import Tracker, redact
from ablate.tracking.tags import JOB_LOG, TRACEBACK

# how a sweep's parent process hands the store and parent run to its jobs (in-process or not)
ENV_URI, ENV_PARENT, ENV_EXPERIMENT = "ABLATE_TRACKING_URI", "ABLATE_PARENT_RUN_ID", "ABLATE_EXPERIMENT_ID"
# the job's own log file (what it printed), set by the launcher inside the job (tag ablate.job_log)
ENV_JOB_LOG = "ABLATE_JOB_LOG"

DONE = ("FINISHED", "SKIPPED")  # the statuses whose metrics count


# (the keys every result has, then the optional ones: typing.Required needs Python 3.11, ablate 3.10)
class _ReplicateKeys(TypedDict):
    status: str  # FINISHED, SKIPPED (a finished run reused), FAILED or PRUNED
    run_id: str | None
    seed: int


class ReplicateResult(_ReplicateKeys, total=False):
    """One replicate's outcome (one training seed, one run)."""

    metrics: dict[str, float]  # FINISHED, SKIPPED: its final metrics
    error: str  # FAILED: "<exception type>: <message>"
    epoch: int  # PRUNED: the epoch it was stopped after


class _CellKeys(TypedDict):
    status: str  # FINISHED, SKIPPED, FAILED, PRUNED, or KILLED (a job stopped by its scheduler)
    metrics: dict[str, float]  # each metric's mean over the replicates that finished
    replicates: list[ReplicateResult]


class CellResult(_CellKeys, total=False):
    """What a job (one grid cell) returns to its launcher and sweeper."""

    run_id: str  # the first replicate's run
    run_ids: list[str]  # one per replicate
    error: str  # FAILED, KILLED: why
    epoch: int  # PRUNED: the earliest epoch a replicate was stopped after


def cell_status(statuses: list[str]) -> str:
    """A cell's status from its replicates': FAILED if any failed, PRUNED if any was pruned,
    SKIPPED if all were already done, else FINISHED."""
    for status in ("FAILED", "PRUNED"):
        if status in statuses:
            return status
    return "SKIPPED" if statuses and all(s == "SKIPPED" for s in statuses) else "FINISHED"


def mean_metrics(results: list[ReplicateResult]) -> dict[str, float]:
    """Each metric's mean over the replicates that finished (what a search's objective reads)."""
    done = [r["metrics"] for r in results if r["status"] in DONE]
    keys = sorted(set().union(*done)) if done else []
    return {k: float(np.mean([m[k] for m in done if k in m])) for k in keys}


def cell_result(results: list[ReplicateResult]) -> CellResult:
    status = cell_status([r["status"] for r in results])
    out = CellResult(status=status, run_id=results[0]["run_id"], run_ids=[r["run_id"] for r in results])
    out.update({"metrics": mean_metrics(results), "replicates": results})
    failed = [r for r in results if r["status"] == "FAILED"]
    if failed:
        out["error"] = f"{len(failed)} of {len(results)} replicates failed: {failed[0].get('error', '')}"
    if "PRUNED" in [r["status"] for r in results]:
        out["epoch"] = min(r["epoch"] for r in results if r["status"] == "PRUNED")
    return out


def unfinished(status: str, error: str) -> CellResult:
    """The answer of a cell that did not get to its replicates' results (FAILED, KILLED)."""
    return CellResult(status=status, error=error, metrics={}, replicates=[])


def job_log_tag() -> dict[str, str]:
    """The tag naming this job's log file, when a launcher said where it is."""
    return {JOB_LOG: os.environ[ENV_JOB_LOG]} if os.environ.get(ENV_JOB_LOG) else {}


def end_run(tracker: Tracker, run_id: str, status: str, detail: str | None = None) -> None:
    """End a run that did not finish as `status`, its traceback (`detail`) kept as an artifact."""
    if detail:
        tracker.log_text(run_id, detail, TRACEBACK)
    tracker.end(run_id, status)


def close_cell(
    overrides: list[str],
    name: str,
    status: str,
    reason: str,
    log: str | None,
    detail: str | None = None,
) -> list[str]:
    """Close the cell's runs still RUNNING as `status` (KILLED or FAILED) saying `reason`, or,
    when the job never opened one, record one run named `name` that says it. `detail`: a
    traceback, kept as the run's error/traceback.txt. Returns the names of the runs closed or
    recorded."""
    if not os.environ.get(ENV_PARENT):
        return []
    tracker, experiment = Tracker(os.environ[ENV_URI]), os.environ[ENV_EXPERIMENT]
    # a job may nest under another run (an Optuna arm's: hydra.job.env_set sets its parent); its runs'
    # tags hold its task overrides only (Hydra keeps the hydra.* ones apart)
    prefix = f"hydra.job.env_set.{ENV_PARENT}="
    given = [o.split("=", 1)[1].strip("'\"") for o in overrides if o.lstrip("+").startswith(prefix)]
    parent = next((g for g in given if g), os.environ[ENV_PARENT])
    mine = json.dumps([o for o in overrides if not o.lstrip("+~").startswith("hydra.")])
    runs = [r for r in tracker.members(experiment, parent) if r["tags"].get("ablate.overrides") == mine]
    tags = {"ablate.error": reason[:500], **({JOB_LOG: log} if log else {})}
    closed = []
    for run in runs:
        if run["status"] != "RUNNING":
            continue  # the job closed it (an interrupted job marks its runs KILLED itself)
        tracker.set_tags(run["run_id"], {k: v for k, v in tags.items() if k not in run["tags"]})  # job's word first
        end_run(tracker, run["run_id"], status, detail)
        closed.append(run["name"])
    if not runs:  # the job died before its runs existed (cancelled while pending, a node without ablate)
        name = redact(name)
        run_id = tracker.start(experiment, name, parent, tags={**tags, "ablate.overrides": mine})
        end_run(tracker, run_id, status, detail)
        closed.append(name)
    return closed


def abandon_sweep(line: str) -> NoReturn:
    """The sweep cannot start its jobs (the scheduler refused them): one line, the sweep's parent
    run closed FAILED saying why, exit 1. Nothing ran, so a corrected command starts clean."""
    print(f"error: {redact(' '.join(line.split()))}", file=sys.stderr, flush=True)
    parent = os.environ.pop(ENV_PARENT, None)
    if parent and os.environ.get(ENV_URI):
        with contextlib.suppress(Exception):  # the store may be what failed
            tracker = Tracker(os.environ[ENV_URI])
            tracker.end(parent, "FAILED")
            tracker.set_tags(parent, {"ablate.error": line[:500]})
    raise SystemExit(1)
