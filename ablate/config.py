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
from omegaconf import DictConfig, OmegaConf


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


def _positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}={value} is not allowed: it must be > 0")


@dataclass
class ModelConfig:
    name: str = "unet"
    impl: str = "ablate.models.unet.UNet"
    channels: list[int] = field(default_factory=lambda: [4, 8])
    middle: int = 16
    skip: bool = True
    bottleneck: bool = False
    bottleneck_dim: int = 16

    def __post_init__(self) -> None:
        if not self.channels or min(self.channels) <= 0:
            raise ConfigError(f"model.channels={self.channels} is not allowed: a non-empty list of ints > 0")
        _positive("model.middle", self.middle)
        _positive("model.bottleneck_dim", self.bottleneck_dim)


@dataclass
class DataConfig:
    name: str = "mnist5k"
    impl: str = "ablate.data.mnist5k.load"
    # what validation needs to know before anything is loaded
    channels: int = 1
    image_size: list[int] = field(default_factory=lambda: [28, 28])
    labelled: bool = True
    root: str | None = None  # None: the user cache (~/.cache/ablate or $XDG_CACHE_HOME/ablate)
    limit: int | None = None  # keep only the first N images (stratified); tests shrink runs with it
    eval_fraction: float = 0.2
    split_seed: int = 0  # the train/eval split stays fixed whatever the training seed
    download: bool = False  # full sets: fetch missing files with torchvision (checksums verified)
    split: str = "train+test"  # full sets: which published split(s) to read; stl10 also has "unlabeled"
    crops: int = 512  # photos: random train crops (of data.image_size), the same every epoch
    eval_crops: int = 64  # photos: eval crops of the held-out cat

    def __post_init__(self) -> None:
        if self.limit is not None:
            _positive("data.limit", self.limit)
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"data.eval_fraction={self.eval_fraction} is not allowed: it must be in (0, 1)")
        splits = ("train+test", "train", "test", "unlabeled")
        if self.split not in splits:
            raise ConfigError(f"data.split={self.split} is not allowed (allowed: {', '.join(splits)})")
        if self.split == "unlabeled" and self.labelled:  # no labels to give: say so before loading
            raise ConfigError("data.split=unlabeled needs data.labelled=false (allowed: data=stl10_unlabeled)")
        _positive("data.crops", self.crops)
        _positive("data.eval_crops", self.eval_crops)


@dataclass
class TaskConfig:
    name: str = "autoencode"
    impl: str = "ablate.tasks.autoencode.Autoencode"


PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainerConfig:
    epochs: int = 12
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

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "snapshots"):
            _positive(f"trainer.{key}", getattr(self, key))
        if self.weight_decay < 0:
            raise ConfigError(f"trainer.weight_decay={self.weight_decay} is not allowed: it must be >= 0")
        if self.threads is not None:
            _positive("trainer.threads", self.threads)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"trainer.precision={self.precision} is not allowed (allowed: {', '.join(PRECISIONS)})")


@dataclass
class EvalConfig:
    latent: bool = True  # k-means on the eval latents when the data has labels
    kmeans_seeds: int = 10
    n_init: int = 10
    kmeans: KMeansBackend = KMeansBackend.torch  # same clusterings as sklearn per seed, 4-5x faster on CPU

    def __post_init__(self) -> None:
        _positive("eval.kmeans_seeds", self.kmeans_seeds)
        _positive("eval.n_init", self.n_init)


@dataclass
class TrackingConfig:
    # None: $MLFLOW_TRACKING_URI if set, else sqlite:///<launch dir>/mlflow.db
    uri: str | None = None
    artifact_dir: str = "mlartifacts"  # beside the sqlite file; relative paths: launch dir
    experiment: str = "ablate"
    report_dir: str = "reports"
    checkpoint_dir: str = "checkpoints"  # relative paths: launch dir
    resume: bool = True  # skip jobs FINISHED with the same fingerprint, resume killed ones


@dataclass
class Config:
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


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
    cs = ConfigStore.instance()
    cs.store(name="ablate_schema", node=_Schema)
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
