"""The config schema: dataclasses registered in Hydra's ConfigStore; values live in conf/*.yaml.

Convert a composed DictConfig with `to_object(cfg)` once, at the boundary: OmegaConf checks the
types (bools, ints, enums) and each dataclass's __post_init__ checks the ranges, so code below
run() only ever sees valid, plain values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigError(ValueError):
    """A bad config value; the message is one line naming the key and what is allowed."""


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


def positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}={value} is not allowed: it must be > 0")


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
    # speed (ablate/train.py, measured in reports/benchmarks.md)
    precision: str = "auto"  # autocast: auto = bf16 on CUDA, fp32 on the CPU; or fp32, bf16
    channels_last: bool = False  # NHWC tensors: no layout reorders around oneDNN / cuDNN convolutions
    compile: bool = False  # torch.compile the model (first epoch pays the compilation, cached on disk)
    # replicates trained at once as one vectorized model (ablate/pack.py): auto, or at most this many;
    # 1 trains them one after another (the plain loop). Never sized from free memory: same numbers
    pack: Any = "auto"

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "snapshots"):
            positive(f"trainer.{key}", getattr(self, key))
        if self.weight_decay < 0:
            raise ConfigError(f"trainer.weight_decay={self.weight_decay} is not allowed: it must be >= 0")
        if self.threads is not None:
            positive("trainer.threads", self.threads)
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
        positive("eval.kmeans_seeds", self.kmeans_seeds)
        positive("eval.n_init", self.n_init)


@dataclass
class TrackingConfig:
    # None: $MLFLOW_TRACKING_URI if set, else sqlite:///<launch dir>/mlflow.db
    uri: str | None = None
    artifact_dir: str = "mlartifacts"  # beside the sqlite file; relative paths: launch dir
    experiment: str = "ablate"
    report_dir: str = "reports"
    checkpoint_dir: str = "checkpoints"  # relative paths: launch dir
    resume: bool = True  # skip jobs FINISHED with the same fingerprint, resume killed ones


SEEDS = 2**32  # numpy's seeds are 32-bit


@dataclass
class Config:
    seed: int = 0  # the first training seed: a job trains seed, seed + 1, ..., seed + replicates - 1
    replicates: int = 3  # training seeds per grid cell, each a run of its own
    # components: a `_target_` and its own keyword arguments (typed by a schema in ablate/schemas.py
    # where the YAML lists one, else checked against the target's signature: ablate/components.py)
    model: Any = MISSING
    data: Any = MISSING
    task: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        positive("replicates", self.replicates)
        if self.replicates > SEEDS:
            raise ConfigError(
                f"replicates={self.replicates} is not allowed: there are {SEEDS} seeds (allowed: 1 to {SEEDS})"
            )
        if not 0 <= self.seed <= SEEDS - self.replicates:
            raise ConfigError(
                f"seed={self.seed} is not allowed with replicates={self.replicates}: the seeds run from seed to "
                f"seed + replicates - 1 (allowed: 0 <= seed <= {SEEDS - self.replicates})"
            )

    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.replicates))


def to_object(cfg: DictConfig) -> Config:
    """Validate a composed config and return the typed dataclass tree (the `hydra` node dropped)."""
    known = {f.name for f in dataclasses.fields(Config)}
    extra = sorted(set(cfg) - known - {"hydra"})
    if extra:
        raise ConfigError(f"{extra[0]}: unknown key (allowed: {', '.join(sorted(known))})")
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) if "hydra" in cfg else cfg
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    return obj


@dataclass
class _Schema(Config):
    """The schema as the primary config's first default. Its own defaults list declares the optional
    `hparams` group, so `hparams=NAME` selects a search space without `+` (conf/hparams/NAME.yaml, whose
    `# @package hydra.sweeper` header puts it into the Optuna sweeper's node: never into a job's config)."""

    defaults: list[Any] = field(default_factory=lambda: [{"optional hparams": None}, "_self_"])


def register_configs() -> None:
    """Register the schema, and every named study in sweeps/ as an option of the `sweep` group."""
    from ablate.schemas import register_schemas  # they import this module's ConfigError

    cs = ConfigStore.instance()
    cs.store(name="ablate_schema", node=_Schema)
    register_schemas()
    for entry in sorted(resources.files("ablate.sweeps").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            node = OmegaConf.create(entry.read_text())
            cs.store(group="sweep", name=entry.name[: -len(".yaml")], node=node, package="_global_")


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """{'model.skip': True, ...} from a nested dict or config (lists kept whole)."""
    if not isinstance(cfg, dict):
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True) if OmegaConf.is_config(cfg) else cfg
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
