"""The config schema: dataclasses registered in Hydra's ConfigStore; values live in conf/*.yaml.

Convert a composed DictConfig with `to_object(cfg)` once, at the boundary: OmegaConf checks the
types (bools, ints, enums) and each dataclass's __post_init__ checks the ranges, so code below
run() only ever sees valid, plain values.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from ablate.config.checks import SEEDS, ConfigError, positive, within
from ablate.config.design import DesignConfig
from ablate.config.schemas import register_schemas
from ablate.config.stop import CONVERGED, MIN_DELTA, PATIENCE, STOPS


class Device(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Optimizer(Enum):
    adam = "adam"
    sgd = "sgd"


class KMeansBackend(Enum):
    sklearn = "sklearn"
    torch = "torch"  # ablate.evaluate.kmeans_torch: all seeds x restarts batched, on the trainer's device


# upper bounds that catch a typo (epochs=99999999999999999999) before it trains for ever
MAX_EPOCHS, MAX_BATCH, MAX_SNAPSHOTS, MAX_THREADS, MAX_KMEANS = 100_000, 1 << 20, 1024, 4096, 1000


PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainerConfig:
    epochs: int = 4
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: Optimizer = Optimizer.adam
    momentum: float = 0.9  # used by sgd only
    weight_decay: float = 0.0
    device: Device = Device.auto
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    snapshots: int = 16  # fixed eval images shown in the reconstruction grids
    progress: bool = True
    checkpoint: bool = True  # rewrite <tracking.checkpoint_dir>/<fingerprint>/last.pt after each epoch
    # speed (ablate/engine/train.py, reports/benchmarks.md). autocast: auto = bf16 on CUDA, fp32 on the
    # CPU (ablate/engine/setup.py says why); or fp32, bf16. Resolved once per sweep, logged as resolved_precision
    precision: str = "auto"
    channels_last: bool = False  # NHWC tensors: no layout reorders around oneDNN / cuDNN convolutions
    compile: bool = False  # torch.compile the model (first epoch pays the compilation, cached on disk)
    # how a job trains its replicates (ablate/job/cell.py): auto (the CPU: one after another; CUDA:
    # vectorized packs of up to 256), 1 (one after another), or N > 1 (vectorized, at most N at once)
    pack: Any = "auto"
    # how long (ablate/engine/convergence.py): `epochs` trains every replicate `epochs` epochs; `converged`
    # stops each one once its eval loss has plateaued (patience, min_delta), `epochs` being the ceiling
    stop: str = "epochs"
    patience: int = PATIENCE
    min_delta: float = MIN_DELTA

    def __post_init__(self) -> None:
        within("trainer.epochs", self.epochs, 1, MAX_EPOCHS)
        if self.stop not in STOPS:
            raise ConfigError(f"trainer.stop={self.stop} is not allowed (allowed: {', '.join(STOPS)})")
        within("trainer.patience", self.patience, 1, MAX_EPOCHS)
        within("trainer.min_delta", self.min_delta, 0, 1)
        if self.stop == CONVERGED and self.epochs < self.patience + 1:
            raise ConfigError(
                f"trainer.epochs={self.epochs} is not allowed with trainer.stop=converged and trainer.patience="
                f"{self.patience}: the ceiling is below the shortest run the rule can stop (allowed: trainer.epochs "
                f">= {self.patience + 1})"
            )
        within("trainer.batch_size", self.batch_size, 1, MAX_BATCH)
        within("trainer.snapshots", self.snapshots, 1, MAX_SNAPSHOTS)
        positive("trainer.lr", self.lr)
        within("trainer.momentum", self.momentum, 0, 1)
        within("trainer.weight_decay", self.weight_decay, 0, math.inf)
        if self.threads is not None:
            within("trainer.threads", self.threads, 1, MAX_THREADS)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"trainer.precision={self.precision} is not allowed (allowed: {', '.join(PRECISIONS)})")
        if self.pack != "auto" and (isinstance(self.pack, bool) or not isinstance(self.pack, int) or self.pack < 1):
            raise ConfigError(f"trainer.pack={self.pack} is not allowed (allowed: auto, or an integer >= 1)")


@dataclass
class EvalConfig:
    latent: bool = True  # k-means on the eval latents when the data has labels
    kmeans_seeds: int = 10
    n_init: int = 10
    kmeans: KMeansBackend = KMeansBackend.torch  # same clusterings as sklearn per seed, 4-5x faster on CPU

    def __post_init__(self) -> None:
        within("eval.kmeans_seeds", self.kmeans_seeds, 1, MAX_KMEANS)
        within("eval.n_init", self.n_init, 1, MAX_KMEANS)


@dataclass
class TrackingConfig:
    # None: $MLFLOW_TRACKING_URI if set, else sqlite:///<launch dir>/mlflow.db
    uri: str | None = None
    artifact_dir: str = "mlartifacts"  # beside the sqlite file; relative paths: launch dir
    experiment: str = "ablate"
    report_dir: str = "reports"
    checkpoint_dir: str = "checkpoints"  # relative paths: launch dir
    resume: bool = True  # skip jobs FINISHED with the same fingerprint, resume killed ones

    def __post_init__(self) -> None:
        # the name is also a folder (artifacts, reports): it must stay inside the launch directory
        name = self.experiment
        if not name.strip() or name.startswith(".") or re.search(r"[/\\\x00-\x1f]", name) or len(name) > 200:
            raise ConfigError(
                f"tracking.experiment={name!r} is not allowed (allowed: a name of 1-200 characters, "
                "not starting with '.', without '/', '\\' or control characters: it is also a folder name)"
            )


@dataclass
class SpeedConfig:
    """How the report measures speed from each run's eval-loss curve (ablate/evaluate/speed.py): the
    horizon of `loss_auc` and the threshold of `epochs_to_loss` (None: not measured). Part of the
    study, like its claims: changing them re-judges the runs, never retrains them."""

    horizon: int = 10
    threshold: float | None = None

    def __post_init__(self) -> None:
        within("speed.horizon", self.horizon, 1, MAX_EPOCHS)
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"speed.threshold={self.threshold} is not allowed (allowed: a finite eval loss, or null)")


MAX_REPLICATES = 10_000
AUTO = "auto"  # replicates=auto: training seeds added in rounds until the claims are decided


@dataclass
class SequentialConfig:
    """`replicates=auto` (ablate/sweep/rounds.py): every cell starts with `min` training seeds; after
    each round the declared claims are judged and the cells of the claims still open get `step` more,
    up to `max`. The looks min, min + step, ..., max are fixed in advance: the verdicts' intervals
    hold over all of them (ablate/report/sequential.py)."""

    min: int = 3
    max: int = 10
    step: int = 1

    def __post_init__(self) -> None:
        within("sequential.min", self.min, 2, MAX_REPLICATES)  # a test needs two seeds
        within("sequential.step", self.step, 1, MAX_REPLICATES)
        if not self.min <= self.max <= MAX_REPLICATES:
            raise ConfigError(
                f"sequential.max={self.max} is not allowed with sequential.min={self.min} (allowed: "
                f"{self.min} to {MAX_REPLICATES})"
            )


@dataclass
class Config:
    seed: int = 0  # the first training seed: a job trains seed, seed + 1, ..., seed + replicates - 1
    replicates: Any = 3  # training seeds per grid cell, each a run of its own; or auto (in rounds: `sequential`)
    # components: a `_target_` and its own keyword arguments (typed by a schema in ablate/config/schemas.py
    # where the YAML lists one, else checked against the target's signature: ablate/job/components.py)
    model: Any = MISSING
    data: Any = MISSING
    task: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # the study's claims and reference tables (ablate/config/claims.py; conf/claims/NAME.yaml): read by
    # preflight and the report, stored with the sweep's parent run, never part of a run's params
    claims: Any = field(default_factory=dict)
    references: Any = field(default_factory=dict)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    sequential: SequentialConfig = field(default_factory=SequentialConfig)
    design: DesignConfig = field(default_factory=DesignConfig)  # which arms a sweep trains (conf/design/)

    def __post_init__(self) -> None:
        r = self.replicates
        if r != AUTO and (isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= MAX_REPLICATES):
            raise ConfigError(f"replicates={r} is not allowed (allowed: 1 to {MAX_REPLICATES}, or auto)")
        most = self.sequential.max if r == AUTO else r
        if not 0 <= self.seed <= SEEDS - most:
            raise ConfigError(
                f"seed={self.seed} is not allowed with replicates={r}: the seeds run from seed to "
                f"seed + replicates - 1 (allowed: 0 <= seed <= {SEEDS - most})"
            )

    def seeds(self) -> list[int]:
        if self.replicates == AUTO:  # the rounds sweeper gives each job its number (ablate/sweep/rounds.py)
            raise ConfigError(
                "replicates=auto adds seeds in rounds of a sweep (allowed: a multirun, python -m ablate -m ... "
                "replicates=auto; or replicates=N)"
            )
        return list(range(self.seed, self.seed + self.replicates))


def to_object(cfg: DictConfig) -> Config:
    """Validate a composed config and return the typed dataclass tree (the `hydra` node dropped)."""
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) if "hydra" in cfg else cfg
    check_keys(cfg, Config)
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    return obj


def check_keys(node: DictConfig, schema: type, prefix: str = "") -> None:
    """Every key of a typed node is a field of its schema, at any depth: `+trainer.epoch=50` adds
    a key Hydra's struct mode lets in (`+` opens the node), which would otherwise be dropped."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in node:
        if key not in fields:
            target = f" for {node['_target_']}" if "_target_" in node else ""  # a component: say which
            raise ConfigError(f"{prefix}{key}: unknown key{target} (allowed: {', '.join(sorted(fields))})")
        child = node._get_node(key)
        typed = OmegaConf.get_type(child) if isinstance(child, DictConfig) else None
        if typed is not None and dataclasses.is_dataclass(typed):
            check_keys(child, typed, f"{prefix}{key}.")


@dataclass
class _Schema(Config):
    """The schema as the primary config's first default. Its own defaults list declares the optional
    `hparams` group, so `hparams=NAME` selects a search space without `+` (conf/hparams/NAME.yaml, whose
    `# @package hydra.sweeper` header puts it into the Optuna sweeper's node: never into a job's config)."""

    defaults: list[Any] = field(default_factory=lambda: [{"optional hparams": None}, "_self_"])


# named studies whose YAML does not parse: name -> one line (file, line, problem)
BROKEN_SWEEPS: dict[str, str] = {}


def register_configs() -> None:
    """Register the schema, and every named study in sweeps/ as an option of the `sweep` group."""

    cs = ConfigStore.instance()
    cs.store(name="ablate_schema", node=_Schema)
    register_schemas()
    for name, node in load_sweeps(resources.files("ablate.sweeps")).items():
        cs.store(group="sweep", name=name, node=node, package="_global_")


def load_sweeps(folder) -> dict[str, DictConfig]:
    """Every study in `folder` (NAME.yaml) that parses; one that does not is kept in BROKEN_SWEEPS
    as one line (file, line, problem), so only the commands that use it fail."""
    nodes = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        name = entry.name[: -len(".yaml")]
        try:
            nodes[name] = OmegaConf.create(entry.read_text())
        except Exception as exc:  # noqa: BLE001 - any parse failure
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            BROKEN_SWEEPS[name] = f"sweeps/{entry.name}{where}: {problem}"
    return nodes


# the study's keys: which arms run and how they are judged, never what one computes (not run params)
STUDY_KEYS = ("claims", "references", "speed", "design")


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """{'model.skip': True, ...} from a nested dict or config (lists kept whole); the study's keys
    (claims, references) left out: they are not a run's settings."""
    if not isinstance(cfg, dict):
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True) if OmegaConf.is_config(cfg) else cfg
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if not prefix and key in STUDY_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
