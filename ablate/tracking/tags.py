"""The names of the tags ablate puts on runs.

What a researcher reads is `ablate.<name>` (seed, replicate, code, overrides, command, factors,
error, kind, threads, ...). Bookkeeping that only ablate reads (heartbeats, fingerprints, identity
hashes, references) is `ablate/<name>`: `/` sorts after `.` in byte order and in the UI's locale
order alike, so the MLflow UI lists these after everything a user reads, and MLflow's own
bookkeeping (`mlflow.*`) it hides. Stores written before 2026-12 named bookkeeping `ablate.<name>`;
`get` reads either, so old sweeps still report.
"""

from __future__ import annotations

from typing import Any

BOOKKEEPING = "ablate/"
# a job's fingerprint: what decides that a finished run can stand for it
FINGERPRINT = BOOKKEEPING + "fingerprint"
# the run whose results a run copied (an Optuna arm's best trial; stores written before reruns
# referenced runs also have skipped jobs' copies)
REUSED = BOOKKEEPING + "reused_from"
# a sweep's parent run lists the finished runs of other sweeps that it reuses (a skipped job's
# results are referenced, never copied): one tag per run, ablate/ref/<run id>
REF = BOOKKEEPING + "ref/"
# a sweep's identity: the same command (and code) continues the same parent run
SWEEP_KEY = BOOKKEEPING + "sweep_key"
# a sweep's unfinished run whose replicate another run (referenced from elsewhere) now stands for
SUPERSEDED = BOOKKEEPING + "superseded_by"
# a replicate's name within its sweep: a hash of its job's overrides and its seed
IDENTITY = BOOKKEEPING + "replicate_key"
# the dataset a run used, as the JSON its loader is built from
DATA_SPEC = BOOKKEEPING + "data_spec"
# the metrics a run's task declared (ablate/config/metrics.py), as JSON: a report rebuilt from the
# store knows a task's own metrics without importing the task
METRICS = BOOKKEEPING + "metrics"
# the artifact of a sweep's parent run that holds the claims and reference tables the sweep declared
STUDY = "study/claims.json"
# a cluster job's log file (what the job printed, on the node), on every run it opens: the report
# names it beside a run that did not finish (a user reads it, so `ablate.`)
JOB_LOG = "ablate.job_log"
# the artifact holding the traceback of a run that failed in Python
TRACEBACK = "error/traceback.txt"
# who holds a RUNNING run, and when it last showed life (orphan detection across hosts)
HOST, PID, HEARTBEAT = BOOKKEEPING + "host", BOOKKEEPING + "pid", BOOKKEEPING + "heartbeat"


def legacy(key: str) -> str:
    """The name a bookkeeping tag had in stores written before 2026-12."""
    return "ablate." + key[len(BOOKKEEPING) :] if key.startswith(BOOKKEEPING) else key


def get(tags: dict[str, Any], key: str, default: Any = None) -> Any:
    """A tag's value under its name, or under its legacy name, or `default`."""
    return tags.get(key, tags.get(legacy(key), default))


# a sequential sweep's design (replicates=auto: {"min", "max", "step"}) and what its rounds did
# ([{"round", "cells", "seeds"}...], then why it stopped), on its parent run (a user reads them)
SEQUENTIAL, ROUNDS = "ablate.sequential", "ablate.rounds"
# the design whose arms a sweep trains (ablate/config/design.py: its name, components and levels,
# a fraction's generators), so the report knows which cells exist and what is confounded
DESIGN = "ablate.design"
