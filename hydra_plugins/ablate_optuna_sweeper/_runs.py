"""MLflow side of a search: one run per arm's study, a child of the sweep's parent run, with the
trials' runs nested under it. When the study ends the arm's run takes its best trial's params and
metric histories, so the sweep's report compares tuned arms with its usual tables; the section
written by `best_params_section` adds which values won, per arm."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

from ablate.report.search import STUDY  # the tag the report finds each arm's study by
from ablate.tracking.tags import DATA_SPEC, HEARTBEAT
from hydra_plugins.ablate_optuna_sweeper._settings import Settings


class StudyRun:
    """The arm's run, when the sweep has a parent run (Hydra's ablate callback opened one)."""

    def __init__(self, name: str, url: str, arm: list[str], label: list[str], settings: Settings) -> None:
        from ablate.job.contract import ENV_EXPERIMENT, ENV_PARENT, ENV_URI
        from ablate.job.resume import alive_tags
        from ablate.tracking.store import Tracker, redact

        self.settings, self.tracker, self.run_id = settings, None, None
        if not (os.environ.get(ENV_PARENT) and os.environ.get(ENV_URI)):
            return
        self.tracker, self.arm = Tracker(os.environ[ENV_URI]), arm
        self.experiment, self.parent = os.environ[ENV_EXPERIMENT], os.environ[ENV_PARENT]
        alive = alive_tags()
        # a rerun of the same command continues the same sweep: its arm's run is reopened, not doubled
        earlier = [r for r in self.tracker.children(self.experiment, self.parent) if r["tags"].get(STUDY) == name]
        if earlier:
            self.run_id = earlier[-1]["run_id"]
            self.tracker.reopen(self.run_id, alive)
            return
        self.run_id = self.tracker.start(
            os.environ[ENV_EXPERIMENT],
            " ".join(o.split(".")[-1] for o in label) or name,
            os.environ[ENV_PARENT],
            tags={
                "ablate.kind": "study",
                STUDY: name,
                "ablate.optuna.storage": redact(url),
                "ablate.optuna.metric": settings.metric,
                "ablate.optuna.direction": settings.direction,
                "ablate.overrides": json.dumps(arm),  # the report's factor values, even if no trial finishes
                **alive,
            },
        )

    def env(self) -> dict[str, str]:
        """What each trial's job gets: this run as its parent (the trials nest under the arm)."""
        from ablate.job.contract import ENV_PARENT

        return {ENV_PARENT: self.run_id} if self.run_id else {}

    def tag_trial(self, run_id: str | None, state: str, value: float | None) -> None:
        if self.tracker is None or not run_id:
            return
        tags = {"ablate.optuna.state": state, **({"ablate.optuna.value": value} if value is not None else {})}
        self.tracker.set_tags(run_id, tags)
        self.tracker.set_tags(self.run_id, {HEARTBEAT: time.time()})

    def close(self, study: Any, interrupted: bool = False) -> dict[str, Any]:
        """End the arm's run with its best trial's results; returns the arm's summary."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        counts = Counter(t.state.name for t in trials)
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        best = study.best_trial if done else None
        summary = {
            "study": study.study_name,
            "trials": dict(sorted(counts.items())),
            "best_trial": None if best is None else best.number,
            "best_value": None if best is None else best.value,
            "best_params": {} if best is None else best.params,
        }
        if self.tracker is None:
            return summary
        tags = {"ablate.optuna.trials": json.dumps(summary["trials"])}
        if best is not None:
            tags.update(
                {
                    "ablate.optuna.best_trial": best.number,
                    "ablate.optuna.best_value": best.value,
                    "ablate.optuna.best_params": json.dumps(best.params),
                }
            )
            if not interrupted:  # the rerun that finishes the study adopts its best trial, once
                self._adopt(best)
        if interrupted:
            tags["ablate.error"] = "interrupted: rerun the same command to resume the study"
        elif best is None:
            tags["ablate.error"] = f"no trial of study {study.study_name} completed ({json.dumps(summary['trials'])})"
        self.tracker.set_tags(self.run_id, tags)
        self.tracker.end(self.run_id, "KILLED" if interrupted else "FINISHED" if best is not None else "FAILED")
        return summary

    def _adopt(self, best: Any) -> None:
        """The best trial's params, metric histories and data spec become the arm's; its progress
        pictures stay with its run (ablate.reused_from points there, as for a skipped job)."""
        source = self.tracker.find_run(best.user_attrs.get("ablate:run_id", "")) if best.user_attrs else None
        if source is None:  # the best trial ran against another tracking store
            self.tracker.log_params(self.run_id, best.params)
            self.tracker.log_metrics(self.run_id, {self.settings.metric: best.value})
            return
        self._take(source, self.run_id)
        for other in best.user_attrs.get("ablate:run_ids", [])[1:]:
            self.sibling(other)

    def _take(self, source: dict[str, Any], run_id: str) -> None:
        """A trial's run's results into `run_id`: metric histories, params, data spec, provenance
        (once: a rerun that finds them there already copies nothing)."""
        from ablate.job.resume import copy_results
        from ablate.tracking.store import REUSED

        if self.tracker.run(run_id)["tags"].get(REUSED) == source["tags"].get(REUSED, source["run_id"]):
            return
        copy_results(self.tracker, source["run_id"], run_id)
        self.tracker.log_params(run_id, source["params"])
        keep = {k: v for k, v in source["tags"].items() if k == DATA_SPEC}
        self.tracker.set_tags(run_id, {**keep, REUSED: source["tags"].get(REUSED, source["run_id"])})

    def sibling(self, run_id: str) -> None:
        """Another replicate of the best trial (or, under replicates=auto, a seed a later round added
        to the tuned arm), as a run beside the arm's (a direct child of the sweep's parent), so the
        report counts the tuned arm's replicates."""
        from ablate.tracking.store import REUSED

        source = self.tracker.find_run(run_id)
        if source is None or source["status"] != "FINISHED":  # a failed seed is no replicate (a rerun retrains it)
            return
        origin = source["tags"].get(REUSED, source["run_id"])
        if any(r["tags"].get(REUSED) == origin for r in self.tracker.children(self.experiment, self.parent)):
            return  # a rerun: the sibling is there already
        name = f"{self.tracker.run(self.run_id)['name']} seed={source['params'].get('seed', '?')}"
        tags = {
            "ablate.kind": "study-replicate",
            "ablate.optuna.arm_run": self.run_id,
            "ablate.overrides": json.dumps(self.arm),
        }
        sibling = self.tracker.start(self.experiment, name, self.parent, tags=tags)
        self._take(source, sibling)
        self.tracker.end(sibling, "FINISHED")
