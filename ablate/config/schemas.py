"""Schemas of the built-in components: one dataclass per model, dataset and task option.

A component's YAML lists its schema first (`defaults: [/schema/model/unet@_here_, _self_]`), so
Hydra types the node: a misspelt key or a wrong type fails at compose, and each `__post_init__`
checks ranges when `ablate.config.to_object` converts the config. A component without a schema
(a researcher's own, from outside this package) is checked against its `_target_`'s signature
instead (ablate/job/components.py). Values live in conf/*.yaml; these are the types and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from ablate.config.checks import MAX_IMAGE, SEEDS, ConfigError, positive, within

MAX_WIDTH = 1 << 16  # channels or units per layer: larger is a typo


@dataclass
class UNetConfig:
    _target_: str = "ablate.models.unet.UNet"
    channels: list[int] = field(default_factory=lambda: [4, 8])
    middle: int = 16
    skip: bool = True
    bottleneck: bool = False
    bottleneck_dim: int = 16

    def __post_init__(self) -> None:
        if not self.channels or not all(1 <= c <= MAX_WIDTH for c in self.channels):
            allowed = f"a non-empty list of 1 to {MAX_WIDTH}"
            raise ConfigError(f"model.channels={self.channels} is not allowed (allowed: {allowed})")
        within("model.middle", self.middle, 1, MAX_WIDTH)
        within("model.bottleneck_dim", self.bottleneck_dim, 1, MAX_WIDTH)


@dataclass
class TaskConfig:
    _target_: str = MISSING  # a Task subclass
    name: str = MISSING  # the label of the task's tables in the report (not passed to the task)


@dataclass
class DataConfig:
    """The keys every dataset has (ablate.job.components.DATA_KEYS): what validation needs before
    anything is loaded, and the fixed train/eval split. A loader gets those its signature names."""

    _target_: str = MISSING  # a loader: a function (or class) returning an ImageSet or a (train, eval) pair
    name: str = MISSING  # the label of the dataset's tables in the report
    channels: int = 1
    image_size: list[int] = field(default_factory=lambda: [28, 28])
    labelled: bool = True
    limit: int | None = None  # keep only the first N images (stratified); tests shrink runs with it
    eval_fraction: float = 0.2
    split_seed: int = 0  # the train/eval split stays fixed whatever the training seed

    def __post_init__(self) -> None:
        if self.limit is not None:
            within("data.limit", self.limit, 1, 10**9)
        if not 0 <= self.split_seed < SEEDS:  # numpy's seeds: a negative one fails only when the data loads
            raise ConfigError(f"data.split_seed={self.split_seed} is not allowed (allowed: 0 to {SEEDS - 1})")
        within("data.channels", self.channels, 1, MAX_IMAGE)
        if not self.image_size or not all(1 <= s <= MAX_IMAGE for s in self.image_size):
            allowed = f"a non-empty list of 1 to {MAX_IMAGE}"
            raise ConfigError(f"data.image_size={self.image_size} is not allowed (allowed: {allowed})")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"data.eval_fraction={self.eval_fraction} is not allowed: it must be in (0, 1)")


@dataclass
class CachedDataConfig(DataConfig):
    root: str | None = None  # None: the user cache (~/.cache/ablate or $XDG_CACHE_HOME/ablate)


SPLITS = ("train+test", "train", "test", "unlabeled")


@dataclass
class FilesDataConfig(CachedDataConfig):
    """The full sets, read from the files torchvision's loaders leave on disk."""

    download: bool = False  # fetch missing files with torchvision (checksums verified)
    split: str = "train+test"  # which published split(s) to read; stl10 also has "unlabeled"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.split not in SPLITS:
            raise ConfigError(f"data.split={self.split} is not allowed (allowed: {', '.join(SPLITS)})")
        if self.split == "unlabeled" and self.labelled:  # no labels to give: say so before loading
            raise ConfigError("data.split=unlabeled needs data.labelled=false (allowed: data=stl10_unlabeled)")


@dataclass
class PhotosDataConfig(DataConfig):
    crops: int = 512  # random train crops (of data.image_size), the same every epoch
    eval_crops: int = 64  # eval crops of the held-out cat

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("data.crops", self.crops)
        positive("data.eval_crops", self.eval_crops)


SCHEMAS = {
    "model": {"unet": UNetConfig},
    "task": {"task": TaskConfig},
    "data": {"cached": CachedDataConfig, "files": FilesDataConfig, "photos": PhotosDataConfig},
}


def register_schemas() -> None:
    """Each schema as schema/<group>/<name> in Hydra's ConfigStore, for the YAML files' defaults."""
    cs = ConfigStore.instance()
    for group, options in SCHEMAS.items():
        for name, node in options.items():
            cs.store(group=f"schema/{group}", name=name, node=node)
