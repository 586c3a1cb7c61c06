"""Validate every job of a command line before anything runs.

Hydra composes each job only when the launcher reaches it, and reports a bad value in several
lines. Here every job of the sweep is composed up front with Hydra's own parser and compose
API, converted to the typed schema (types and ranges checked), each component checked against
its `_target_` (ablate/job/components.py), and the components cross-checked: the task against the
data, the model built on the meta device for the data's size. A sweeper's own settings are
checked by the sweeper (its class's `preflight`, found through its `_target_`). The first problem
becomes one line naming the key and what is allowed; the caller exits non-zero before a run or a
file is created.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import _locate
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from ablate.config import BROKEN_SWEEPS, ConfigError, to_object
from ablate.config.root import AUTO
from ablate.data import eval_too_small
from ablate.job import components
from ablate.sweep import design
from ablate.sweep.bools import check_bools
from ablate.sweep.errors import failing_key, one_line
from ablate.sweep.rounds import check_rounds, check_single
from ablate.sweep.seeds import check_ceilings, check_seeds
from ablate.sweep.study import check_claims, parse_study
from ablate.tracking.store import check_tracking, resolve_uri
from ablate.util.launch_dir import check_folders

CONFIG_MODULE, CONFIG_NAME = "ablate.conf", "config"
SMALL_FRACTION = 0.05  # an eval fraction below this is checked before the run (data loaded here)


def _base(overrides: list[str]) -> DictConfig:
    """The command's config without its sweeps (the sweep file's grid, the design, the sweeper)."""
    fixed = [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if not o.is_sweep_override()]
    return compose(CONFIG_NAME, overrides=fixed, return_hydra_config=True)


def _grid(overrides: list[str], base: DictConfig | None = None) -> list:
    """A multirun's overrides, parsed: the sweep file's grid first, the command line after it (so
    the command line wins). `base`: the command's _base, when composed already."""
    params = OmegaConf.select(base if base is not None else _base(overrides), "hydra.sweeper.params") or {}
    return OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()] + list(overrides))


def expand(overrides: list[str], multirun: bool, base: DictConfig | None = None) -> list[list[str]]:
    """The override list of every job the command would launch: the design's arms (ablate/config/
    design.py; the basic sweeper's grid by default), in Hydra's order."""
    if not multirun:
        return [list(overrides)]
    base = base if base is not None else _base(overrides)
    d = design.config_of(base)
    return design.jobs(_grid(overrides, base), d.name, d.p, d.resolution)


class CombinationError(ConfigError):
    """Valid values that do not fit together (colorize on grayscale data, a size the depth
    cannot halve). Inside a larger grid only that cell fails; the rest of the grid runs."""


@dataclass
class JobSpec:
    overrides: list[str]
    cfg: DictConfig  # composed exactly as the job will see it (Hydra's own node aside)
    reason: str | None = None  # why this cell will fail, if it will


class Composer:
    """Hydra's compose, cached: a grid's jobs differ mostly in plain values (model.skip=false,
    seed=3), so the defaults list is composed once per set of group choices (data=..., +x=...) and
    each job's plain values are applied to a copy with Hydra's own override step. ~0.13 s a job
    becomes ~0.01; tests/test_preflight.py checks the result equals a full compose."""

    def __init__(self):
        self.parser = OverridesParser.create()
        self.loader = GlobalHydra.instance().config_loader()
        self.bases: dict[tuple[str, ...], DictConfig] = {}

    def _is_value(self, override) -> bool:
        key = override.key_or_group
        change = not (override.is_add() or override.is_force_add() or override.is_delete())
        plain = change and override.package is None and not override.is_hydra_override()
        return plain and not self.loader.repository.group_exists(key)

    def __call__(self, overrides: list[str]) -> DictConfig:
        values, groups = [], []
        for override in self.parser.parse_overrides(overrides):
            (values if self._is_value(override) else groups).append(override)
        rest = tuple(o.input_line for o in groups)
        if rest not in self.bases:
            self.bases[rest] = compose(CONFIG_NAME, overrides=list(rest))
        cfg = copy.deepcopy(self.bases[rest])
        try:
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        except Exception:  # noqa: BLE001 - a bad value: let the full compose raise Hydra's own error
            return compose(CONFIG_NAME, overrides=overrides)
        return cfg


def check_job(overrides: list[str], composer: Composer | None = None) -> DictConfig:
    cfg = (composer or Composer())(overrides)
    check_bools(overrides, cfg)  # before OmegaConf turns an integer into a bool
    conf = to_object(cfg)
    components.check_all(conf)
    reason = components.misfit(conf.model, conf.task, components.data_spec(conf.data))
    if reason:
        raise CombinationError(reason)
    return cfg


def _explain(exc: Exception, job: list[str], composer: Composer) -> str:
    """One line for a job that failed to compose, with what is allowed beside a bad key (read
    from the job's config composed without the override that names it)."""
    key = failing_key(exc)
    base = None
    if key:
        try:  # the job without that override (and, for a whole command line, without its sweeps)
            kept = [o for o in composer.parser.parse_overrides(job) if not o.is_sweep_override()]
            base = composer([o.input_line for o in kept if o.get_key_element().lstrip("+~") != key])
        except Exception:  # noqa: BLE001 - then the schema alone says what is allowed
            base = None
    return one_line(exc, base)


def preflight(overrides: list[str], multirun: bool, launch_dir: Path | None = None) -> list[JobSpec]:
    """Check every job, then the tracking store (seconds, not MLflow's minutes of retries). A bad
    value anywhere, a grid where no cell can run or an unreachable store raises ConfigError (one
    line). Returns every job, with the reason it will fail where a cell cannot run."""
    jobs: list[JobSpec] = []
    _search_flags(overrides, multirun)
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        composer = Composer()
        try:
            _named_sweeps(overrides, composer)
            base = _base(overrides) if multirun else None  # composed once: each compose costs ~0.1 s
            for job in expand(overrides, multirun, base):
                try:
                    jobs.append(JobSpec(job, check_job(job, composer)))
                except CombinationError as exc:
                    jobs.append(JobSpec(job, composer(job), str(exc)))
                except ConfigError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                    raise ConfigError(_explain(exc, job, composer)) from None
            if multirun:
                cfgs = [job.cfg for job in jobs if not job.reason]
                declared = tuple(m for cfg in cfgs for m in components.task_metrics(cfg.task))  # tasks' own
                hydra = base.hydra  # the sweeper is the command's, whatever each job sweeps
                sweeper, d = str(hydra.sweeper.get("_target_", "")), design.config_of(base)
                design.check_sweeper(d.name, sweeper, hydra.runtime.choices)
                check_search(overrides, jobs, launch_dir or Path.cwd(), declared)
                # the design the report will know (only ablate's sweeper records one)
                ours = sweeper.endswith(design.ABLATE_SWEEPER)
                grid = _grid(overrides, base)
                arms = design.design_of(grid, d.name, d.p, d.resolution) if ours else None
                swept = dict.fromkeys(o.get_key_element().lstrip("+~") for o in grid if o.is_sweep_override())
                judged = check_claims(cfgs, list(swept), declared, arms)  # the swept keys, as the report names them
                if any(cfg.replicates == AUTO for cfg in cfgs):
                    check_rounds(judged, _locate(sweeper) if sweeper else None, hydra.runtime.choices)
            else:  # a single run judges no claim, but a malformed one is still a typo to report
                parse_study(jobs[0].cfg)
                check_single(jobs[0].cfg)
                design.check_single(design.config_of(jobs[0].cfg))
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            raise ConfigError(_explain(exc, overrides, composer)) from None
    if all(job.reason for job in jobs):
        raise ConfigError(jobs[0].reason)
    check_seeds(jobs)
    check_ceilings(jobs)
    check_eval_sizes(jobs)
    for uri in dict.fromkeys(job.cfg.tracking.uri for job in jobs):
        reason = check_tracking(resolve_uri(uri, launch_dir or Path.cwd()))
        if reason:
            raise ConfigError(f"tracking.uri: {reason}")
    check_outputs(jobs, multirun, launch_dir or Path.cwd())
    return jobs


def check_outputs(jobs: list[JobSpec], multirun: bool, launch_dir: Path) -> None:
    """Every folder the command will write (Hydra's output, checkpoints, reports, a local store's
    artifacts and sqlite file) can be written: one line naming the key, before anything runs."""
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        hydra = compose(CONFIG_NAME, overrides=jobs[0].overrides, return_hydra_config=True).hydra
    folders = [("hydra.sweep.dir", hydra.sweep.dir) if multirun else ("hydra.run.dir", hydra.run.dir)]
    for job in jobs:
        t = job.cfg.tracking
        folders += [("tracking.checkpoint_dir", t.checkpoint_dir), ("tracking.report_dir", t.report_dir)]
        if resolve_uri(t.uri, launch_dir).startswith("sqlite:///"):  # the sqlite file's folder: check_tracking
            folders.append(("tracking.artifact_dir", t.artifact_dir))
    reason = check_folders(list(dict.fromkeys(folders)), launch_dir)  # each (key, folder) probed once
    if reason:
        raise ConfigError(reason)


def check_eval_sizes(jobs: list[JobSpec]) -> None:
    """A labelled eval split too small for k-means purity (data.limit, data.eval_fraction) is a
    bad value: checked here when either is small (a subset is quick to load); the job checks every
    split again once loaded, where the files are (a login node may not have them)."""
    seen = set()
    for job in jobs:
        if job.reason:
            continue
        conf = to_object(job.cfg)
        spec = components.data_spec(conf.data)
        key = repr(sorted(spec.items()))
        small = spec.get("limit") or spec.get("eval_fraction", 1) < SMALL_FRACTION
        if not (conf.eval.latent and spec.get("labelled") and small) or key in seen:
            continue
        seen.add(key)
        try:
            reason = eval_too_small(*components.load_split(spec))
        except Exception:  # noqa: BLE001 - files not here: the job checks where it runs
            continue
        if reason:
            raise ConfigError(reason)


def _named_sweeps(overrides: list[str], composer: Composer) -> None:
    """`sweep=NAME` must name a study that exists and parses: the group is optional in the
    defaults (no study by default), so Hydra itself would skip a misspelt one silently."""
    known = composer.loader.get_group_options("sweep")
    for override in composer.parser.parse_overrides(overrides):
        if override.key_or_group != "sweep" or override.is_delete():
            continue
        if type(override.value()).__name__ == "Glob":
            continue  # glob(*): Hydra expands it from what exists
        for name in override.sweep_string_iterator() if override.is_sweep_override() else [override.value()]:
            if name is None or name == "null":
                continue  # no named sweep
            if name in BROKEN_SWEEPS:
                raise ConfigError(BROKEN_SWEEPS[name])
            if name not in known:
                raise ConfigError(f"sweep={name}: no such named sweep (allowed: {', '.join(known)})")


def _search_flags(overrides: list[str], multirun: bool) -> None:
    """hparams=NAME selects the space of an Optuna search: it needs -m and hydra/sweeper=optuna (a
    named sweep may choose the sweeper itself)."""
    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    if "hparams" in keys and not multirun:
        raise ConfigError("hparams: a search runs with -m (python -m ablate -m hydra/sweeper=optuna hparams=NAME ...)")
    if "hparams" in keys and not {"hydra/sweeper", "sweep"} & keys:
        raise ConfigError("hparams: the search space of hydra/sweeper=optuna (allowed: add hydra/sweeper=optuna)")


def check_search(overrides: list[str], jobs: list[JobSpec], launch_dir: Path, declared: tuple = ()) -> None:
    """A launcher or sweeper that checks its own settings. The launcher's class (its `_target_`)
    gets `preflight(launcher node)`. The comma lists were expanded into jobs above, like any
    grid's; here the sweeper's class (its `_target_`) gets `preflight(sweeper node, group
    choices, overrides, tracking URI, launch dir, problem[, declared: the tasks' metrics])` and
    raises ValueError, one line."""
    job = next((j for j in jobs if not j.reason), jobs[0])
    hydra = compose(CONFIG_NAME, overrides=job.overrides, return_hydra_config=True).hydra
    launcher = hydra.launcher.get("_target_")  # a launcher that checks its settings: preflight(node)
    try:
        getattr(_locate(str(launcher)), "preflight", lambda node: None)(hydra.launcher)
    except ValueError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    target = hydra.sweeper.get("_target_")
    check = getattr(_locate(str(target)), "preflight", None) if target else None
    if check is None:
        return

    def problem(extra: list[str]) -> str | None:
        try:
            check_job(job.overrides + extra)
        except ConfigError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            return one_line(exc)
        return None

    # the metrics the arms' tasks declare: a sweeper whose `preflight` takes them checks its metrics too
    extra = {"declared": declared} if "declared" in inspect.signature(check).parameters else {}
    try:
        check(
            hydra.sweeper,
            hydra.runtime.choices,
            overrides,
            resolve_uri(job.cfg.tracking.uri, launch_dir),
            launch_dir,
            problem,
            **extra,
        )
    except ValueError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
