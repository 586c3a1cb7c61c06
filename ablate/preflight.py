"""Validate every job of a command line before anything runs.

Hydra composes each job only when the launcher reaches it, and reports a bad value in several
lines. Here every job of the sweep is composed up front with Hydra's own parser and compose
API, converted to the typed schema (types and ranges checked), and cross-checked (image size
against model depth, task against data). The first problem becomes one line naming the key
and what is allowed; the caller exits non-zero before a run or a file is created.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from ablate import config as schema
from ablate.config import ConfigError, to_object
from ablate.tracking import check_tracking, resolve_uri

CONFIG_MODULE, CONFIG_NAME = "ablate.conf", "config"


def expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of every job the command would launch (grid order, like Hydra)."""
    if not multirun:
        return [list(overrides)]
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    base = compose(CONFIG_NAME, overrides=fixed, return_hydra_config=True)
    params = OmegaConf.select(base, "hydra.sweeper.params") or {}
    # the sweep file's grid first, the command line after it (so the command line wins)
    everything = parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + list(overrides))
    return [list(job) for batch in BasicSweeper.split_arguments(everything, None) for job in batch]


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
    from ablate.models.unet import check_input_size
    from ablate.tasks import load_task

    cfg = (composer or Composer())(overrides)
    conf = to_object(cfg)
    try:
        check_input_size(tuple(conf.data.image_size), len(conf.model.channels))
    except ValueError as exc:
        raise CombinationError(f"data.image_size / model.channels: {exc}") from None
    reason = load_task(conf.task.impl).check(conf.data.channels, conf.data.labelled)
    if reason:
        raise CombinationError(reason)
    return cfg


def preflight(overrides: list[str], multirun: bool, launch_dir: Path | None = None) -> list[JobSpec]:
    """Check every job, then the tracking store (seconds, not MLflow's minutes of retries). A bad
    value anywhere, a grid where no cell can run or an unreachable store raises ConfigError (one
    line). Returns every job, with the reason it will fail where a cell cannot run."""
    jobs: list[JobSpec] = []
    _search_flags(overrides, multirun)
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            composer = Composer()
            for job in expand(overrides, multirun):
                try:
                    jobs.append(JobSpec(job, check_job(job, composer)))
                except CombinationError as exc:
                    jobs.append(JobSpec(job, composer(job), str(exc)))
            if multirun:
                check_search(overrides, jobs, launch_dir or Path.cwd())
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        raise ConfigError(one_line(exc)) from None
    if all(job.reason for job in jobs):
        raise ConfigError(jobs[0].reason)
    for uri in dict.fromkeys(job.cfg.tracking.uri for job in jobs):
        reason = check_tracking(resolve_uri(uri, launch_dir or Path.cwd()))
        if reason:
            raise ConfigError(f"tracking.uri: {reason}")
    return jobs


def _search_flags(overrides: list[str], multirun: bool) -> None:
    """hparams=NAME selects the space of an Optuna search: it needs -m and hydra/sweeper=optuna (a
    named sweep may choose the sweeper itself)."""
    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    if "hparams" in keys and not multirun:
        raise ConfigError("hparams: a search runs with -m (python -m ablate -m hydra/sweeper=optuna hparams=NAME ...)")
    if "hparams" in keys and not {"hydra/sweeper", "sweep"} & keys:
        raise ConfigError("hparams: the search space of hydra/sweeper=optuna (allowed: add hydra/sweeper=optuna)")


def check_search(overrides: list[str], jobs: list[JobSpec], launch_dir: Path) -> None:
    """hydra/sweeper=optuna: the comma lists were expanded into arms above, like any grid's jobs;
    here the search settings (hparams=NAME, hydra.sweeper.*) and every value of the space are checked."""
    job = next((j for j in jobs if not j.reason), jobs[0])
    hydra = compose(CONFIG_NAME, overrides=job.overrides, return_hydra_config=True).hydra
    sweeper = hydra.sweeper
    if not str(sweeper.get("_target_", "")).startswith("hydra_plugins.ablate_optuna_sweeper."):
        return
    from hydra_plugins.ablate_optuna_sweeper._preflight import check
    from hydra_plugins.ablate_optuna_sweeper._settings import SettingsError

    def problem(extra: list[str]) -> str | None:
        try:
            check_job(job.overrides + extra)
        except ConfigError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            return one_line(exc)
        return None

    try:
        tracking = resolve_uri(job.cfg.tracking.uri, launch_dir)
        check(sweeper, hydra.runtime.choices.get("hparams"), overrides, tracking, launch_dir, problem)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def _schema_type(full_key: str) -> typing.Any:
    """The schema's type at a dotted key (None where the schema does not know it)."""
    node: typing.Any = schema.Config
    for part in full_key.split("."):
        hints = typing.get_type_hints(node) if dataclasses.is_dataclass(node) else {}
        node = hints.get(part)
    return node


def _allowed_keys(full_key: str) -> str:
    """The keys the schema allows beside an unknown one, e.g. for 'model.foo' the model fields."""
    parent = _schema_type(full_key.rpartition(".")[0]) if "." in full_key else schema.Config
    if not dataclasses.is_dataclass(parent):
        return ""
    return ", ".join(f.name for f in dataclasses.fields(parent))


_ALLOWED = {bool: "true, false", int: "an integer", float: "a number", str: "a string"}


def _allowed_values(full_key: str) -> str:
    kind = _schema_type(full_key)
    args = [a for a in typing.get_args(kind) if a is not type(None)]  # Optional[int] -> int
    kind = args[0] if len(args) == 1 else kind
    if isinstance(kind, type) and issubclass(kind, Enum):
        return ", ".join(m.name for m in kind)
    return _ALLOWED.get(kind, "")


def one_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, MissingConfigException) or isinstance(cause, MissingConfigException):
        missing = exc if isinstance(exc, MissingConfigException) else cause
        options = getattr(missing, "options", None)
        group = (missing.missing_cfg_file or "").rsplit("/", 1)
        if options is not None and len(group) == 2:
            return f"{group[0]}={group[1]}: no such option (allowed: {', '.join(sorted(options))})"
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = cause.full_key
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            allowed = _allowed_keys(key)
            return f"{key}: unknown key" + (f" (allowed: {allowed})" if allowed else "")
        msg = str(getattr(cause, "msg", cause)).splitlines()[0]
        allowed = _allowed_values(key)
        return f"{key}: {msg}" + (f" (allowed: {allowed})" if allowed and allowed not in msg else "")
    return " ".join(str(exc).split())
