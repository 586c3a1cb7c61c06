"""`hydra/sweeper=optuna`: the config node and the Sweeper class Hydra instantiates.

The command line's comma lists (and a sweep file's `hydra.sweeper.params` grid) are arms, expanded
exactly as the basic sweeper expands a grid; each arm gets a study of its own and the search space
comes only from `hparams=NAME` (conf/hparams/NAME.yaml, merged into this node). Imports stay light:
Hydra's plugin scan imports this module on every start of every app.
"""

# no `from __future__ import annotations` here: Hydra's scan runs this module before it is in
# sys.modules, where dataclasses would look string annotations up
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class AblateOptunaSweeperConf:
    _target_: str = "hydra_plugins.ablate_optuna_sweeper.optuna_sweeper.AblateOptunaSweeper"
    _recursive_: bool = False  # sampler/pruner {_target_: ...} are built per study (and per job), not here
    params: dict[str, str] | None = None  # the arms grid of a sweep file (like the basic sweeper's)
    # the search space and its settings: a file of the hparams group (hparams=NAME) merged into this node
    space: dict[str, Any] = field(default_factory=dict)  # key: [choices] | {low, high, log, step, type}
    metric: str = "eval_loss"  # the objective: a metric of the job (final value), e.g. purity_mean
    direction: str = "minimize"
    n_trials: int = 10  # per arm, in total over every run and machine sharing the study
    n_jobs: int = 1  # trials handed to the launcher at once (hydra/launcher=parallel runs them side by side)
    sampler: Any = "tpe"  # a name (tpe, random, ...) or {_target_: optuna.samplers.X, ...kwargs}
    seed: int | None = None  # the named sampler's seed (the same for every arm: equal treatment)
    pruner: Any = None  # null, a name (median, hyperband, ...) or {_target_: optuna.pruners.X, ...}
    prune_metric: str | None = None  # the per-epoch metric the pruner sees (default: the objective's)
    study_name: str | None = None  # default: <tracking.experiment>-<hparams>, plus the arm and a hash
    storage: str | None = None  # an RDB URL; default: sqlite:///<launch dir>/<storage_dir>/<study>.db
    storage_dir: str = "optuna"
    heartbeat_interval: int = 60  # seconds; a trial whose sweeper is silent 2x this long is retried
    max_retry: int = 3  # retries of a trial whose sweeper died (an interrupted trial is always retried)


ConfigStore.instance().store(group="hydra/sweeper", name="optuna", node=AblateOptunaSweeperConf, provider="ablate")


class AblateOptunaSweeper(Sweeper):
    ROUNDS = True  # replicates=auto: the search is round 1, then the tuned arms are topped up (_rounds.py)

    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.ablate_optuna_sweeper._settings import Settings

        self.settings = Settings.parse(settings)  # a bad value: one line naming the key
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Any = None

    @staticmethod
    def preflight(
        sweeper: Any, choices: Any, overrides: list[str], tracking: str, launch_dir: Any, problem: Any, declared=()
    ) -> None:
        """Called by `ablate.sweep.preflight` (found through this class's `_target_`) before anything runs:
        raises ValueError, one line, for the first bad search setting. `problem(extra_overrides)`
        composes an arm with those overrides and says what is wrong with it, if anything."""
        from hydra_plugins.ablate_optuna_sweeper._preflight import check

        check(sweeper, choices.get("hparams"), overrides, tracking, launch_dir, problem, declared)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[Any]:
        from hydra_plugins.ablate_optuna_sweeper._search import search_arms

        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        return search_arms(self.settings, self.config, self.hydra_context.config_loader, self.launcher, arguments)
