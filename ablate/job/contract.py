"""A sweep's cell whose job never answered: a cluster job cancelled (`scancel`), out of time,
killed with its node, or failed before ablate's own error handling ran (a node without the
package, an unpicklable config). The launcher that submitted it calls `close_cell` from the
sweep's process, so none of the cell's runs stays RUNNING and the report shows the hole with the
reason and the job's log. A job that answered closed its own runs; this only fills in the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import NoReturn

from ablate.tracking.store import ENV_EXPERIMENT, ENV_PARENT, ENV_URI, Tracker, redact
from ablate.tracking.tags import JOB_LOG, TRACEBACK

# the job's own log file (what it printed), set by the launcher inside the job (tag ablate.job_log)
ENV_JOB_LOG = "ABLATE_JOB_LOG"


def job_log_tag() -> dict[str, str]:
    """The tag naming this job's log file, when a launcher said where it is."""
    return {JOB_LOG: os.environ[ENV_JOB_LOG]} if os.environ.get(ENV_JOB_LOG) else {}


def end_run(tracker: Tracker, run_id: str, status: str, detail: str | None = None) -> None:
    """End a run that did not finish as `status`, its traceback (`detail`) kept as an artifact."""
    if detail:
        tracker.log_text(run_id, detail, TRACEBACK)
    tracker.end(run_id, status)


def close_cell(overrides: list[str], name: str, status: str, reason: str, log: str | None,
               detail: str | None = None) -> list[str]:  # fmt: skip
    """Close the cell's runs still RUNNING as `status` (KILLED or FAILED) saying `reason`, or,
    when the job never opened one, record one run named `name` that says it. `detail`: a
    traceback, kept as the run's error/traceback.txt. Returns the names of the runs closed or
    recorded."""
    if not os.environ.get(ENV_PARENT):
        return []
    tracker, parent, experiment = Tracker(os.environ[ENV_URI]), os.environ[ENV_PARENT], os.environ[ENV_EXPERIMENT]
    mine = json.dumps(list(overrides))
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
