"""The job's side of a trial, an epoch hook (ablate/engine/hooks.py): the sweeper sets each job's
$ABLATE_EPOCH_HOOK to this class and the trial's encoded spec (through hydra.job.env_set, so
in-process, joblib and SLURM jobs alike); the job calls it after every epoch: it reports the
per-epoch metric to the trial and stops the job (ablate.engine.hooks.Pruned) when the pruner says so."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from ablate.engine.hooks import hook_spec


def trial_hook(encoded: str) -> str:
    """The $ABLATE_EPOCH_HOOK value of a trial's job: TrialHook(encoded) after every epoch."""
    return hook_spec(f"{TrialHook.__module__}.{TrialHook.__qualname__}", encoded)


class TrialHook:
    def __init__(self, encoded: str) -> None:
        spec = json.loads(base64.urlsafe_b64decode(encoded.encode()))
        self.storage, self.study_name = spec["storage"], spec["study"]
        self.trial_id, self.number = int(spec["trial_id"]), int(spec["number"])
        self.pruner, self.metric, self.sign = spec.get("pruner"), spec.get("metric"), float(spec.get("sign", 1.0))
        self._trial: Any = None

    @property
    def tags(self) -> dict[str, Any]:
        """Tags of the job's run: which study and trial it is."""
        from ablate.tracking.store import redact

        return {
            "ablate.optuna.study": self.study_name,
            "ablate.optuna.trial": self.number,
            "ablate.optuna.storage": redact(self.storage),
        }

    def trial(self) -> Any:
        if self._trial is None:
            import optuna

            from hydra_plugins.ablate_optuna_sweeper._settings import build_pruner

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.load_study(
                study_name=self.study_name, storage=self.storage, pruner=build_pruner(self.pruner)
            )
            self._trial = optuna.trial.Trial(study, self.trial_id)
        return self._trial

    def __call__(self, epoch: int, values: dict[str, float]) -> None:
        if self.metric is None or self.metric not in values or not math.isfinite(values[self.metric]):
            return  # no pruner, or nothing to judge by (a non-finite loss fails the job by itself)
        trial = self.trial()
        trial.report(self.sign * values[self.metric], epoch)
        if trial.should_prune():
            from ablate.engine.hooks import Pruned

            raise Pruned(
                epoch,
                f"pruned by {type(trial.study.pruner).__name__} at epoch {epoch}: "
                f"{self.metric}={values[self.metric]:.6g}",
            )
