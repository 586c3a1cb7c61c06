"""`hydra/sweeper=ablate` (the default): the design's arms (the grid by default), in rounds when
`replicates=auto`.

The jobs are the arms of the sweep's design (`design=leave_one_out`, ...: ablate/config/design.py)
over the keys it sweeps, crossed with seeds, tasks and datasets (ablate/sweep/design.py). With the
full grid and a fixed number of replicates it is Hydra's BasicSweeper, unchanged; with another
design the same launcher gets the design's jobs, in batches of `max_batch_size`. With `replicates=auto`,
round 1 launches every cell of the design with `replicates=<sequential.min>`; after each round
`ablate.sweep.rounds.plan` judges the declared claims from the tracking store and names the cells
to top up and their new number of seeds; the next round launches those jobs through the same
launcher (basic, parallel, slurm), under the same parent run. The parent run records the design
and the rounds (ablate.sequential, ablate.rounds) for the report. Imports stay light: Hydra's
plugin scan imports this module on every start of every app.
"""

# no `from __future__ import annotations` here: Hydra's scan runs this module before it is in
# sys.modules, where dataclasses would look string annotations up
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf


@dataclass
class AblateSweeperConf:
    _target_: str = "hydra_plugins.ablate_sweeper.sweeper.AblateSweeper"
    max_batch_size: Any = None  # jobs handed to the launcher at once (None: the whole grid or round)
    params: Any = None  # the grid of a sweep file (hydra.sweeper.params), as the basic sweeper's


ConfigStore.instance().store(group="hydra/sweeper", name="ablate", node=AblateSweeperConf, provider="ablate")


class AblateSweeper(BasicSweeper):
    ROUNDS = True  # replicates=auto runs here (ablate/sweep/rounds.py)

    def split_arguments(self, overrides: list, max_batch_size: int | None) -> list[list[list[str]]]:
        """The jobs in batches, as the basic sweeper's (whose loop launches them): its own grid for
        design=full, else the design's arms crossed with the other swept keys (ablate/sweep/design.py)."""
        arms = OmegaConf.select(self.config, "design") or {"name": "full"}
        if arms["name"] == "full":
            return BasicSweeper.split_arguments(overrides, max_batch_size)
        from ablate.sweep.design import jobs

        grid = jobs(overrides, arms["name"], arms.get("p"), arms.get("resolution"))
        size = max_batch_size or len(grid)
        return [grid[index : index + size] for index in range(0, len(grid), size)]

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        if OmegaConf.select(self.config, "replicates") != "auto":
            return super().sweep(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        grid = self.split_arguments(parser.parse_overrides([*self._parse_config(), *arguments]), None)[0]
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        return self._rounds(grid)

    def _rounds(self, grid: list[list[str]]) -> Any:
        """replicates=auto: each round's cells, with their number of seeds, through the launcher."""
        from ablate.sweep.rounds import run_rounds, without

        index = 0

        def launch(todo: list[tuple[list[str], int]]) -> Any:
            nonlocal index
            batch = [[*job, f"replicates={n}"] for job, n in todo]
            self.validate_batch_is_legal(batch)
            returns = self.launcher.launch(batch, initial_job_idx=index)
            index += len(batch)
            return returns

        return run_rounds(self.config, [without(job) for job in grid], launch)
