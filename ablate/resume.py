"""Skip what is done, resume what was killed: decided per job from its fingerprint.

- a FINISHED run with the same fingerprint in the experiment: the job is skipped; its numbers are
  copied into this sweep's child run (tagged with where they came from) so they count in the report;
- else a checkpoint under <checkpoint_dir>/<fingerprint>/: training resumes after its epoch, and the
  epochs before it are copied from the run that wrote it;
- else a fresh start. FAILED runs are simply rerun.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ablate import checkpoint
from ablate.tracking import REUSED, Tracker, copy_results, find_by_fingerprint


@dataclass
class Plan:
    action: str  # "run", "skip" or "resume"
    folder: Path  # this fingerprint's checkpoint folder
    source: str | None = None  # the run whose results are reused
    state: dict | None = None  # the loaded checkpoint, when resuming

    @property
    def path(self) -> Path:
        return self.folder / "last.pt"


def plan(tracker: Tracker, experiment_id: str, run_id: str, fingerprint: str, checkpoints: Path, enabled: bool) -> Plan:
    folder = checkpoints / fingerprint
    if not enabled:
        return Plan("run", folder)
    for previous in find_by_fingerprint(tracker, experiment_id, fingerprint, exclude=run_id):
        if previous["status"] == "FINISHED":
            return Plan("skip", folder, source=previous["tags"].get(REUSED, previous["run_id"]))
    return plan_offline(fingerprint, checkpoints, enabled)


def plan_offline(fingerprint: str, checkpoints: Path, enabled: bool) -> Plan:
    """The plan from the checkpoint folder alone (also when there is no tracking store yet)."""
    folder = checkpoints / fingerprint
    owner = folder / "run.json"
    if enabled and (folder / "last.pt").exists() and owner.exists():
        state = checkpoint.load(folder / "last.pt")
        return Plan("resume", folder, source=json.loads(owner.read_text())["run_id"], state=state)
    return Plan("run", folder)


def claim(plan: Plan, run_id: str) -> None:
    """Record which run writes this folder's checkpoints (the next resume copies its history)."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    (plan.folder / "run.json").write_text(json.dumps({"run_id": run_id}))


def adopt(tracker: Tracker, plan: Plan, run_id: str) -> None:
    """Bring a skipped job's results, or a resumed job's earlier epochs, into this run."""
    if plan.action == "skip":
        copy_results(tracker, plan.source, run_id)
        tracker.set_tags(run_id, {REUSED: plan.source})
    elif plan.action == "resume":
        copy_results(tracker, plan.source, run_id, max_step=plan.state["epoch"], folders=("progress",))
        tracker.set_tags(run_id, {"ablate.resumed_from": plan.source, "ablate.resumed_epoch": plan.state["epoch"]})


def finish(plan: Plan) -> None:
    """A finished job keeps only its final weights (logged with the run): drop its checkpoints."""
    shutil.rmtree(plan.folder, ignore_errors=True)
