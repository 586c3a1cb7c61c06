"""Skip what is done, resume what was killed: decided per replicate from its fingerprint, so
rerunning a command adds no run to the store for work it has already done.

- a FINISHED run with the same fingerprint in the experiment: the replicate is skipped; that run
  is its result (a sweep references it: ablate.ref.<run id> on the parent), nothing is copied;
- else a checkpoint under <checkpoint_dir>/<fingerprint>/: training resumes after its epoch in the
  run that wrote the checkpoint, reopened (RUNNING again);
- else a fresh start, in this sweep's own unfinished run of the same fingerprint when there is one
  (killed before its first checkpoint, or failed), else in a new run.

Also the orphan policy: a RUNNING run whose process is gone (dead pid on this host, a silent
heartbeat elsewhere) is closed as KILLED before a new command starts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ablate.engine import checkpoint
from ablate.job.stopping import STOP, reusable
from ablate.tracking.store import FINGERPRINT, PARENT_TAG, REUSED, SUPERSEDED, Tracker
from ablate.tracking.tags import HEARTBEAT, HOST, PID
from ablate.tracking.tags import get as tag

BUSY = ("RUNNING", "FINISHED")  # a run in these states is never trained in again (in use, or a result)
STALE_SECONDS = 30 * 60  # a RUNNING run on another host with no heartbeat for this long is dead


@dataclass
class Plan:
    action: str  # "run", "skip" or "resume"
    folder: Path  # this fingerprint's checkpoint folder
    source: str | None = None  # the run that is reused (skip) or continued (resume, or a rerun in place)
    state: dict | None = None  # the loaded checkpoint, when resuming

    @property
    def path(self) -> Path:
        return self.folder / "last.pt"


def plan(
    tracker: Tracker,
    experiment_id: str,
    parent: str | None,
    fingerprint: str,
    checkpoints: Path,
    enabled: bool,
    identity: dict[str, str] | None = None,
    look_only: bool = False,
    ceiling: int | None = None,
) -> Plan:
    """`parent`: the sweep's parent run (None for a single run); `identity`: the tags that name
    the replicate within its sweep (its overrides and seed); `ceiling`: under trainer.stop=converged,
    the ceiling a finished run must suit (stopping.reusable)."""
    folder = folder_of(checkpoints, fingerprint, ceiling)
    if not enabled:
        return Plan("run", folder)
    same = tracker.search(experiment_id, tags={FINGERPRINT: fingerprint})[::-1]  # newest first
    finished = [r for r in same if r["status"] == "FINISHED" and reusable(tag(r["tags"], STOP), ceiling)]
    if finished:
        mine = [r for r in finished if r["tags"].get(PARENT_TAG) == parent]  # this sweep's own, if any
        found = (mine or finished)[0]
        return Plan("skip", folder, source=tag(found["tags"], REUSED, found["run_id"]))
    offline = plan_offline(fingerprint, checkpoints, enabled, look_only, ceiling)
    if offline.action == "resume":
        owner = tracker.find_run(offline.source)
        # never into a run in use, nor into a finished one (another command's result stays as it is)
        usable = owner is not None and owner["experiment_id"] == experiment_id and owner["status"] not in BUSY
        if not usable:  # the checkpoint outlived its run, belongs to another experiment, or is in use
            offline.source = None
        return offline
    stale = stale_runs(tracker, experiment_id, parent, identity)
    # a finished run is never trained again: one that does not suit this ceiling stays as it is
    unfinished = [r for r in same if r["status"] not in BUSY]
    stale = stale or [r for r in unfinished if r["tags"].get(PARENT_TAG) == parent]
    return Plan("run", folder, source=stale[0]["run_id"] if stale else None)


def stale_runs(tracker: Tracker, experiment_id: str, parent: str | None, identity: dict[str, str] | None) -> list:
    """This sweep's runs of the replicate that did not finish (killed, failed, even before its
    fingerprint was known), newest first: a rerun trains in one of them instead of beside them.
    None outside a sweep (a single run's own unfinished runs are found by fingerprint)."""
    if not (parent and identity):
        return []
    runs = tracker.search(experiment_id, tags={PARENT_TAG: parent, **identity})[::-1]
    return [r for r in runs if r["status"] not in BUSY and tag(r["tags"], SUPERSEDED) is None]


def folder_of(checkpoints: Path, fingerprint: str, ceiling: int | None = None) -> Path:
    """A replicate's checkpoint folder. Under trainer.stop=converged it is also its ceiling's: a
    finished run is reused across ceilings by its fingerprint (stopping.reusable), but a killed one
    resumes only under the ceiling it trained for (continued under another, it would keep the old
    ceiling's param, or resume past the new one)."""
    return checkpoints / (fingerprint if ceiling is None else f"{fingerprint}-ceiling{ceiling}")


def plan_offline(
    fingerprint: str, checkpoints: Path, enabled: bool, look_only: bool = False, ceiling: int | None = None
) -> Plan:
    """The plan from the checkpoint folder alone (also when there is no tracking store yet)."""
    folder = folder_of(checkpoints, fingerprint, ceiling)
    owner = folder / "run.json"
    if enabled and (folder / "last.pt").exists() and owner.exists():
        state = checkpoint.load(folder / "last.pt", set_aside=not look_only)
        if state is not None:  # else: set aside, trains afresh
            return Plan("resume", folder, source=json.loads(owner.read_text())["run_id"], state=state)
    return Plan("run", folder)


def record_owner(plan: Plan, run_id: str) -> None:
    """Record which run owns this folder's checkpoints (the next resume continues that run)."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    (plan.folder / "run.json").write_text(json.dumps({"run_id": run_id}))


def finish(plan: Plan) -> None:
    """A finished job keeps only its final weights (logged with the run): drop its checkpoints."""
    shutil.rmtree(plan.folder, ignore_errors=True)


def copy_results(
    tracker: Tracker, src: str, dst: str, max_step: int | None = None, folders: tuple[str, ...] = ()
) -> None:
    """Copy src's metric histories (steps <= max_step when given) and artifact folders into dst:
    for a pack resumed from another sweep's checkpoint (its runs' epochs before the checkpoint)
    and for an Optuna arm taking its best trial's results."""
    tracker.copy_metrics(src, dst, max_step)
    for folder in folders:
        names = [n for n in tracker.list_artifacts(src, folder) if max_step is None or _epoch_of(n) <= max_step]
        tracker.copy_artifacts(src, dst, names, folder)


def _epoch_of(name: str) -> int:
    digits = "".join(ch for ch in Path(name).stem if ch.isdigit())
    return int(digits) if digits else 0


def alive_tags() -> dict[str, object]:
    """What a run (re)opened by this process says about its owner: mark_orphans reads it."""
    return {HOST: socket.gethostname(), PID: os.getpid(), HEARTBEAT: time.time()}


def mark_orphans(tracker: Tracker, experiment_id: str, host: str) -> list[str]:
    """Mark KILLED the RUNNING runs whose process is gone: on this host when its pid is dead,
    elsewhere when its heartbeat is older than STALE_SECONDS. Returns their ids."""
    killed = []
    now = time.time()
    for run in tracker.search(experiment_id, status="RUNNING"):
        tags = run["tags"]
        pid, run_host = tag(tags, PID), tag(tags, HOST)
        beat = float(tag(tags, HEARTBEAT, run["start_time"] / 1000))
        local_dead = run_host == host and pid is not None and not _alive(int(pid))
        if local_dead or (run_host != host and now - beat > STALE_SECONDS):
            tracker.end(run["run_id"], "KILLED")
            killed.append(run["run_id"])
    return killed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
