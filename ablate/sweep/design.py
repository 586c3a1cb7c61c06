"""A sweep's jobs under its design (ablate/config/design.py), from the overrides Hydra parsed.

Like Hydra's basic sweeper, one value list per key (the command line after the sweep file's grid,
the later one winning) and a job per combination, in the same order. A key swept with a comma list
is a component of the design, except the training seed (replicates) and the keys that make report
sections (task, data) or name a study (sweep): those are crossed with every arm. `design=full`
gives exactly the basic sweeper's jobs; another design keeps the arms it names. The sweeper,
preflight and the dry run all expand a command here, so they agree on its jobs.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from ablate.config import ConfigError
from ablate.config.design import Arms, Component, DesignConfig, arms

CROSSED = ("seed", "replicates", "task", "data", "sweep")  # swept, never a component of the design
ABLATE_SWEEPER = "AblateSweeper"  # the class (hydra/sweeper=ablate, the default) that runs designs and rounds


def _lists(overrides: list[Override]) -> OrderedDict[str, list[str]]:
    """Each key's jobs values ("key=value"), the basic sweeper's way."""
    out: OrderedDict[str, list[str]] = OrderedDict()
    for o in overrides:
        key = o.get_key_element()
        if o.is_sweep_override():
            out[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            out[key] = [f"{key}={o.get_value_element_as_str()}"]
    return out


def config_of(cfg: DictConfig) -> DesignConfig:
    """A composed config's `design` node, checked (an unknown name, a bad p or resolution: one line)."""
    return DesignConfig(**OmegaConf.to_container(cfg.design))


def check_single(d: DesignConfig) -> None:
    """A single run (no -m) is one arm: no design picks it."""
    if d.name != "full":
        raise ConfigError(
            f"design={d.name} picks arms among the keys a sweep varies (allowed: with -m, python -m ablate -m "
            f"design={d.name} model.skip=true,false ...; or design=full)"
        )


def check_sweeper(name: str, sweeper_target: str, choices: dict) -> None:
    """Before anything runs: a design other than the grid needs ablate's own sweeper."""
    if name != "full" and not sweeper_target.endswith(ABLATE_SWEEPER):
        raise ConfigError(
            f"design={name}: hydra/sweeper={choices.get('hydra/sweeper')} runs only the full grid "
            "(allowed: hydra/sweeper=ablate, the default; or design=full)"
        )


def _is_component(key: str, values: list[str], sweeps: set[str]) -> bool:
    """A key swept over more than one value (the command line may pin a key the sweep file sweeps),
    neither crossed nor Hydra's own."""
    name = key.lstrip("+~")
    if key in sweeps and name.split(".")[0] == "design":
        raise ConfigError(
            f"{name}: a sweep has one design (allowed: one value, e.g. {name}={values[0].split('=', 1)[1]})"
        )
    return key in sweeps and len(values) > 1 and name not in CROSSED and not name.startswith("hydra")


def components(overrides: list[Override]) -> list[Component]:
    """The design's components: the swept keys (as the report names them: `+`/`~` stripped) and
    their levels in the order given."""
    sweeps = {o.get_key_element() for o in overrides if o.is_sweep_override()}
    return [
        Component(key.lstrip("+~"), tuple(v.split("=", 1)[1] for v in values))
        for key, values in _lists(overrides).items()
        if _is_component(key, values, sweeps)
    ]


def design_of(overrides: list[Override], name: str, p: int | None = None, resolution: int | None = None) -> Arms:
    """The design over the command's components (ConfigError, one line, when it cannot be built)."""
    return arms(name, components(overrides), p, resolution)


def jobs(overrides: list[Override], name: str, p: int | None = None, resolution: int | None = None) -> list[list[str]]:
    """Every job's overrides: the design's arms, crossed with the other swept keys (seeds, tasks,
    datasets). A full grid: the basic sweeper's jobs in its order; another design: for each
    combination of the crossed keys, the design's arms in order."""
    lists = _lists(overrides)
    if name == "full":  # Hydra's own grid, exactly
        return [list(job) for job in itertools.product(*lists.values())]
    sweeps = {o.get_key_element() for o in overrides if o.is_sweep_override()}
    comp_keys = [k for k, v in lists.items() if _is_component(k, v, sweeps)]
    design = design_of(overrides, name, p, resolution)
    crossed = [k for k in lists if k not in comp_keys]
    out = []
    for combo in itertools.product(*(lists[k] for k in crossed)):
        fixed = dict(zip(crossed, combo, strict=True))
        for row in design.rows:
            arm = {k: f"{k}={level}" for k, level in zip(comp_keys, row, strict=True)}
            out.append([fixed[k] if k in fixed else arm[k] for k in lists])
    return out
