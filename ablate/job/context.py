"""What a job's replicates share: the job's context (built once by ablate/job/run.py) and, once
its data and task are made, its cell's inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig

from ablate.config import Config
from ablate.config.metrics import Metric
from ablate.data import ImageSet
from ablate.job.env import Where
from ablate.tasks import Task
from ablate.tracking.store import Tracker


@dataclass(frozen=True)
class JobContext:
    """A job's config, where it runs, where its runs are tracked and what they all carry."""

    conf: Config
    where: Where
    tracker: Tracker
    experiment: str  # the experiment's id
    parent: str | None  # the sweep's parent run (None for a single run)
    arm: str  # the arm's name: its values of the sweep's factors
    config: DictConfig  # the job's config without Hydra's node (what each replicate saves)
    settings: dict[str, Any]  # that config flattened: each run's params (with its seed)
    data: dict[str, Any]  # the data spec (ablate.job.components.data_spec)
    hook_tags: dict[str, Any] = field(default_factory=dict)  # the epoch hook's tags, on every run
    metrics: tuple[Metric, ...] = ()  # what its task declares (tagged on each run: the report reads them)


@dataclass(frozen=True)
class Cell:
    """The shared inputs of a cell's replicates: its config, task, data and device."""

    conf: Config
    task: Task
    data: dict[str, Any]  # the data spec
    train_set: ImageSet
    eval_set: ImageSet
    shown: ImageSet  # the eval images of the progress grids
    device: torch.device
    precision: str  # trainer.precision resolved for this job (ablate/job/precision.py)
    resources: dict[str, Any]  # the GPU and threads it was given (tags on its runs)
