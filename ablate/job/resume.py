"""Skip what is done, resume what was killed: decided per replicate from its fingerprint, so
rerunning a command adds no run to the store for work it has already done.

- a FINISHED run with the same fingerprint in the experiment: the replicate is skipped; that run
  is its result (a sweep references it: ablate.ref.<run id> on the parent), nothing is copied;
- else a checkpoint under <checkpoint_dir>/<fingerprint>/: training resumes after its epoch in the
  run that wrote the checkpoint, reopened (RUNNING again);
- else, under trainer.stop=converged, a FINISHED run that reached a lower ceiling before converging:
  its last checkpoint was kept (`finish`: <fingerprint>-ceiling<N>/kept.pt, which no resume reads),
  and training goes on from it in a new run that starts with its epochs (the finished run stays as
  it was). The numbers are those of training from scratch under the new ceiling: training reads
  the ceiling only as the bound of its loop (and the built-in models draw no random numbers in a
  progress grid);
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
from ablate.job.stopping import STOP, reached, reusable
from ablate.tracking.store import FINGERPRINT, PARENT_TAG, REUSED, SUPERSEDED, Tracker
from ablate.tracking.tags import HEARTBEAT, HOST, PID
from ablate.tracking.tags import get as tag

CONTINUED = "ablate.continued_from"  # a run that went on from a lower ceiling's: that run
KEPT = "kept.pt"  # a run stopped by its ceiling: its last checkpoint, for a higher ceiling to go on from
BUSY = ("RUNNING", "FINISHED")  # a run in these states is never trained in again (in use, or a result)
STALE_SECONDS = 30 * 60  # a RUNNING run on another host with no heartbeat for this long is dead


@dataclass
class Plan:
    action: str  # "run", "skip" or "resume"
    folder: Path  # this fingerprint's checkpoint folder
    source: str | None = None  # the run that is reused (skip) or continued (resume, or a rerun in place)
    state: dict | None = None  # the loaded checkpoint, when resuming
    continues: str | None = None  # resume from a lower ceiling: the finished run whose epochs come first

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
    lower = continuation(same, checkpoints, fingerprint, ceiling, look_only)
    if lower is not None:  # in this sweep's own run that began to go on from it, if any (else a new run)
        lower.source = next((r["run_id"] for r in stale if tag(r["tags"], CONTINUED) == lower.continues), None)
        return lower
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


def continuation(
    same: list[dict], checkpoints: Path, fingerprint: str, ceiling: int | None, look_only: bool = False
) -> Plan | None:
    """Resume from the kept checkpoint of a finished run (of `same`, this fingerprint's runs) that
    reached a lower ceiling than `ceiling` before converging: the highest such, else None. A kept
    file is used only when it holds one replicate at that ceiling with no stop recorded (whichever
    run of this fingerprint wrote it: the same fingerprint computes the same numbers)."""
    if ceiling is None:
        return None
    lower = [(reached(tag(r["tags"], STOP)) or 0, r) for r in same if r["status"] == "FINISHED"]
    for at, run in sorted((c for c in lower if 0 < c[0] < ceiling), key=lambda c: -c[0]):
        path = folder_of(checkpoints, fingerprint, at) / KEPT
        state = checkpoint.load(path, set_aside=not look_only) if path.exists() else None
        at_ceiling = state is not None and state["epoch"] == at and len(state["histories"]) == 1
        if at_ceiling and not any(s is not None for s in state.get("stopped", [])):
            return Plan("resume", folder_of(checkpoints, fingerprint, ceiling), state=state, continues=run["run_id"])
    return None


def carry_over(tracker: Tracker, plan: Plan, run_id: str, curves: list[str]) -> None:
    """The continued run's epochs (its per-epoch `curves` and progress grids up to the checkpoint's
    epoch) into the run that goes on from them, once: a rerun that finds them there copies nothing."""
    if plan.continues is None:
        return
    if tag(tracker.run(run_id)["tags"], CONTINUED) == plan.continues and tracker.history(run_id, "eval_loss"):
        return
    tracker.set_tags(run_id, {CONTINUED: plan.continues})
    copy_results(tracker, plan.continues, run_id, int(plan.state["epoch"]), ("progress",), keys=curves)


def finish(plan: Plan, keep: bool = False, drop_kept: bool = True) -> None:
    """A finished job keeps only its final weights (logged with the run): drop its checkpoints.
    `keep`: the run reached its ceiling before converging, so its last checkpoint becomes the kept
    one a higher ceiling goes on from. `drop_kept`: the run finished, so the other kept checkpoints
    of its fingerprint (lower ceilings') are spent. A skipped replicate's folder is cleared only of
    what a kill left (a kept checkpoint is another run's)."""
    if plan.action == "skip":
        if not (plan.folder / KEPT).exists():
            shutil.rmtree(plan.folder, ignore_errors=True)
        return
    if keep and plan.path.exists():
        plan.path.replace(plan.folder / KEPT)
        (plan.folder / "run.json").unlink(missing_ok=True)
    else:
        shutil.rmtree(plan.folder, ignore_errors=True)
    stem = plan.folder.name.rsplit("-ceiling", 1)[0]
    for other in plan.folder.parent.glob(f"{stem}-ceiling*") if drop_kept and stem != plan.folder.name else []:
        if other != plan.folder and (other / KEPT).exists():
            shutil.rmtree(other, ignore_errors=True)


def copy_results(
    tracker: Tracker,
    src: str,
    dst: str,
    max_step: int | None = None,
    folders: tuple[str, ...] = (),
    keys: list[str] | None = None,
) -> None:
    """Copy src's metric histories (steps <= max_step when given; only `keys` when given) and artifact
    folders into dst: for a pack resumed from another sweep's checkpoint (its runs' epochs before
    the checkpoint), a run going on from a lower ceiling's, and an Optuna arm taking its best
    trial's results."""
    tracker.copy_metrics(src, dst, max_step, keys)
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
