"""`replicates=auto` under `hydra/sweeper=optuna`: seeds added in rounds to the tuned arms.

Round 1 is the search: every arm's study runs to its n_trials, each trial with the first look's
seeds (`sequential.min`; the objective is their mean), and each arm adopts its best trial, whose
seeds become the arm's replicates (_runs.StudyRun). After each round ablate's own loop
(ablate/sweep/rounds.py) judges the declared claims from the store and names the arms to top up;
a later round runs each such arm again with its best trial's values and `replicates=<n>`, nested
under the arm's run like its trials. The seeds the best trial trained have the same fingerprint, so
they are found finished and reused; each new seed becomes a run beside the arm's, which the report
counts. A rerun of the command finds the studies complete and every seed finished: nothing is added.

The values were chosen on the best trial's seeds, and those seeds stay in the test (a tuned arm is
compared as the search left it): the other seeds are the ones no choice was made on. A study that
an earlier command completed with fewer seeds per trial gets its best values' missing seeds in
round 1; an arm whose study completed no trial is not topped up, and the rounds' record says so.
"""

from __future__ import annotations

from typing import Any

from hydra.core.utils import JobStatus
from omegaconf import DictConfig

from hydra_plugins.ablate_optuna_sweeper._search import Tuned, arms, tune
from hydra_plugins.ablate_optuna_sweeper._settings import Settings


def search_in_rounds(
    settings: Settings, config: DictConfig, loader: Any, launcher: Any, arguments: list[str]
) -> list[Any]:
    """The rounds (ablate.sweep.rounds.run_rounds), the first of which is the search; what each
    round launched, per round."""
    from ablate.job.contract import ENV_PARENT
    from ablate.sweep.rounds import REPLICATES, cell_key, run_rounds, without

    cells = [without(arm) for arm in arms(settings, arguments)[0]]
    tuned: dict[str, Tuned] = {}  # a cell's job (as the rounds key it) -> its arm after the search
    notes: list[str] = []  # arms no round can top up, for the record of how the rounds ended
    index = 0

    def top_up(todo: list[tuple[list[str], int]]) -> list[Any]:
        """Each arm again with its best values and `replicates=n`, nested under its run: the seeds it
        has are found finished, the new ones train and become runs beside the arm's."""
        nonlocal index
        ready = [(tuned[cell_key(job)], job, n) for job, n in todo]
        ready = [(t, job, n) for t, job, n in ready if t.summary["best_trial"] is not None and t.run.run_id]
        batch = [
            [*job, *t.values(), f"{REPLICATES}={n}", f"hydra.job.env_set.{ENV_PARENT}='{t.run.run_id}'"]
            for t, job, n in ready
        ]
        returns = launcher.launch(batch, initial_job_idx=index) if batch else []
        index += len(batch)
        for (t, _, _), ret in zip(ready, returns, strict=True):
            done = ret.return_value if ret.status == JobStatus.COMPLETED else None
            for run_id in done.get("run_ids", []) if isinstance(done, dict) else []:
                t.run.sibling(run_id)  # only a new, finished seed is added
        return returns

    def launch(todo: list[tuple[list[str], int]]) -> Any:
        nonlocal index
        if tuned:
            return top_up(todo)
        # round 1: the search, every trial at the first look's seeds
        first = max(n for _, n in todo)
        found, index = tune(settings, config, loader, launcher, arguments, [f"{REPLICATES}={first}"])
        tuned.update({cell_key(without(t.arm)): t for t in found})
        for t in found:
            if t.summary["best_trial"] is None:
                notes.append(f"{' '.join(t.arm)}: not topped up, its study completed no trial")
        # a study that an earlier command completed (its name leaves the number of seeds out) may
        # hold fewer: every tuned arm at the first look, which finds seeds it has and trains the rest
        return [t.summary for t in found], top_up([(job, first) for job, _ in todo])

    return run_rounds(config, cells, launch, notes)
