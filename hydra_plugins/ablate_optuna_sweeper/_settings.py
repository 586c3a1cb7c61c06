"""The search settings, checked once: every bad value becomes one line naming its key and what is
allowed (preflight prints it and exits 2 before anything runs; the sweeper raises it otherwise).
Also what turns them into Optuna objects: sampler, pruner, distributions, override strings."""

from __future__ import annotations

import importlib
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ablate.config.metrics import Registry
from ablate.tasks.metrics import BUILTIN

KEY = "hydra.sweeper"
DIRECTIONS = ("minimize", "maximize")
SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "qmc": "QMCSampler",
    "bruteforce": "BruteForceSampler",
    "nsgaii": "NSGAIISampler",
}
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "wilcoxon": "WilcoxonPruner",
    "nop": "NopPruner",
}
_RANGE_KEYS = {"low", "high", "log", "step", "type"}


class SettingsError(ValueError):
    """One line: the key, the bad value and what is allowed."""


@dataclass
class Settings:
    space: dict[str, Any]
    metric: str
    direction: str
    n_trials: int
    n_jobs: int
    sampler: Any
    seed: int | None
    pruner: Any
    prune_metric: str | None
    study_name: str | None
    storage: str | None
    storage_dir: str
    heartbeat_interval: int
    max_retry: int
    params: dict[str, str] = field(default_factory=dict)
    # the metrics the arms' tasks declare (ablate's registry): a task's own per-epoch metric can be
    # the pruner's; set by preflight and by each arm (the sweeper's own node does not know them)
    declared: tuple = ()

    @classmethod
    def parse(cls, raw: dict[str, Any] | DictConfig, declared: tuple = ()) -> Settings:
        plain = OmegaConf.to_container(raw, resolve=True) if OmegaConf.is_config(raw) else dict(raw)
        plain = {
            k: (OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v) for k, v in plain.items()
        }
        for key in ("_target_", "_recursive_"):
            plain.pop(key, None)
        plain["params"] = plain.get("params") or {}
        plain["space"] = flat_space(plain.get("space") or {})
        settings = cls(**plain, declared=tuple(declared))
        settings.check()
        return settings

    def check(self) -> None:
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise SettingsError(f"{KEY}.metric: empty (allowed: a metric of the job, e.g. eval_loss, purity_mean)")
        if self.direction not in DIRECTIONS:
            raise SettingsError(f"{KEY}.direction={self.direction}: not allowed (allowed: {', '.join(DIRECTIONS)})")
        for key in ("n_trials", "n_jobs", "max_retry", "heartbeat_interval"):
            low = 1 if key in ("n_trials", "n_jobs") else 0
            if getattr(self, key) < low:
                raise SettingsError(f"{KEY}.{key}={getattr(self, key)} is not allowed: it must be >= {low}")
        if not self.space:
            raise SettingsError(f"{KEY}.space: empty (allowed: key: [choices] or key: {{low, high, log, step}})")
        for key, spec in self.space.items():
            distribution(key, spec)
        if self.pruner is not None and self.declared:
            self.pruning_metric()  # a pruner needs a metric that exists after every epoch (checked by
            # preflight, which knows the arms' tasks; an arm checks it again once its task is known)
        build_sampler(self.sampler, self.seed)
        build_pruner(self.pruner)
        if self.storage is not None and "://" not in str(self.storage):
            raise SettingsError(
                f"{KEY}.storage={self.storage}: not a database URL (allowed: sqlite:///PATH, "
                "postgresql+psycopg://..., null for a sqlite file per study)"
            )

    def objective(self, metrics: dict[str, float]) -> float | None:
        """The trial's value: the metric, or its final_ twin (final_eval_loss for eval_loss)."""
        for name in (self.metric, f"final_{self.metric}"):
            if name in metrics:
                return float(metrics[name])
        return None

    def pruning_metric(self) -> tuple[str, float]:
        """(per-epoch metric, sign): the sign turns it the study's way (pruners compare reported values
        in the study's direction), e.g. psnr reported negated in a study that minimizes eval_loss."""
        name = self.prune_metric or re.sub(r"^final_", "", self.metric)
        per_epoch = Registry(BUILTIN, self.declared).per_epoch  # the curves: losses, the tasks' metrics
        if name not in per_epoch:
            raise SettingsError(
                f"{KEY}.prune_metric={name}: not logged after every epoch, so nothing to prune on "
                f"(allowed: {', '.join(per_epoch)})"
            )
        return name, 1.0 if per_epoch[name] == self.direction else -1.0


def flat_space(space: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'trainer.lr': spec}, also from nested keys ({trainer: {lr: spec}}, as a command line adds one:
    +hydra.sweeper.space.trainer.momentum=[0.5,0.9])."""
    out: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, dict) and not {"low", "high"} & set(spec):
            out.update(flat_space(spec, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = spec
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def distribution(key: str, spec: Any) -> Any:
    """An Optuna distribution from one entry of the space: a list is categorical; a mapping
    {low, high[, log][, step][, type]} a float range, or an int range when low, high (and step) are ints."""
    from optuna import distributions as d

    where = f"{KEY}.space.{key}"
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise SettingsError(f"{where}: no choices (allowed: a non-empty list)")
        if any(not (v is None or isinstance(v, (bool, int, float, str))) for v in spec):
            raise SettingsError(f"{where}: choices must be plain values (allowed: numbers, strings, bools, null)")
        return d.CategoricalDistribution(list(spec))
    if not isinstance(spec, dict) or not {"low", "high"} <= set(spec) or set(spec) - _RANGE_KEYS:
        raise SettingsError(f"{where}: {spec} is not a range (allowed: [choices] or {{low, high, log, step, type}})")
    low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
    if not (_is_number(low) and _is_number(high)) or not low < high:
        raise SettingsError(f"{where}: low={low}, high={high} is not allowed: numbers with low < high")
    if log and low <= 0:
        raise SettingsError(f"{where}: log=true needs low > 0 (got low={low})")
    if step is not None and (not _is_number(step) or step <= 0 or log):
        raise SettingsError(f"{where}: step={step} is not allowed: a number > 0, and not with log=true")
    kind = spec.get("type") or ("int" if all(isinstance(v, int) for v in (low, high, step or 1)) else "float")
    if kind not in ("int", "float"):
        raise SettingsError(f"{where}.type={kind}: not allowed (allowed: int, float)")
    if kind == "int":
        if not all(float(v).is_integer() for v in (low, high, step or 1)):
            raise SettingsError(f"{where}: type=int needs integer low, high and step")
        return d.IntDistribution(int(low), int(high), log=log, step=int(step or 1))
    return d.FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))


def _build(spec: Any, names: dict[str, str], module: str, what: str, seed: int | None = None) -> Any:
    """A sampler or pruner from a name or a mapping {name | _target_, ...kwargs}."""
    kwargs = dict(spec) if isinstance(spec, dict) else {}
    name = kwargs.pop("name", None) if isinstance(spec, dict) else spec
    target = kwargs.pop("_target_", None)
    allowed = f"{', '.join(names)}, or {{_target_: {module}.X, ...}}"
    if target is None:
        if name not in names:
            raise SettingsError(f"{KEY}.{what}={name}: unknown {what} (allowed: {allowed})")
        target = f"{module}.{names[name]}"
        if seed is not None and what == "sampler" and "seed" not in kwargs:
            kwargs["seed"] = seed
    mod, _, attr = str(target).rpartition(".")
    try:
        cls = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError, ValueError):
        raise SettingsError(f"{KEY}.{what}._target_={target}: no such class (allowed: {allowed})") from None
    try:
        with warnings.catch_warnings():  # some samplers are 'experimental' in Optuna: the user chose them
            warnings.simplefilter("ignore")
            return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a wrong keyword or value: one line
        raise SettingsError(f"{KEY}.{what}: {target}({kwargs}): {' '.join(str(exc).split())}") from None


def build_sampler(spec: Any, seed: int | None) -> Any:
    import optuna

    sampler = _build(spec, SAMPLERS, "optuna.samplers", "sampler", seed)
    if not isinstance(sampler, optuna.samplers.BaseSampler):
        raise SettingsError(f"{KEY}.sampler: {type(sampler).__name__} is not an optuna.samplers.BaseSampler")
    return sampler


def build_pruner(spec: Any) -> Any:
    import optuna

    if spec is None:
        return optuna.pruners.NopPruner()
    pruner = _build(spec, PRUNERS, "optuna.pruners", "pruner")
    if not isinstance(pruner, optuna.pruners.BasePruner):
        raise SettingsError(f"{KEY}.pruner: {type(pruner).__name__} is not an optuna.pruners.BasePruner")
    return pruner


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def override_value(value: Any) -> str:
    """A sampled value as Hydra's override grammar reads it back exactly (floats by repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, int) or (
        isinstance(value, str) and _PLAIN.match(value) and value.lower() not in ("true", "false", "null", "nan", "inf")
    ):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
