"""The interface every task implements. A task is built from `task._target_` (a Task subclass)
with its own keyword arguments (ablate/job/components.py); `task.name` labels its report tables."""

from __future__ import annotations

import torch

from ablate.config.metrics import Metric
from ablate.tasks.metrics import IMAGE_METRICS, image_sums


class Task:
    """Image-to-image by default: outputs in [0, 1], PSNR and SSIM as quality metrics."""

    # the metrics `metric_sums`/`reduce` compute, declared for the report, the console and the UI
    # (ablate/config/metrics.py); a task with metrics of its own declares them here
    metrics: tuple[Metric, ...] = IMAGE_METRICS

    def check(self, channels: int, labelled: bool) -> str | None:
        """None if the task can run on this data, else a one-line reason."""
        return None

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        """The model's raw output made into the task's output: the task, not the model, owns the
        output activation (images: a sigmoid into [0, 1]; segmentation: logits, left raw)."""
        return torch.sigmoid(raw)

    def in_channels(self, data_channels: int) -> int:
        return data_channels

    def out_channels(self, data_channels: int) -> int:
        raise NotImplementedError

    def batch(self, images: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) from a batch of dataset images in [0, 1]."""
        raise NotImplementedError

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metric_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Additive per-batch statistics (summed over batches on the device, no host sync)."""
        return image_sums(output, target)

    def reduce(self, sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
        """Final quality metrics from the summed statistics of `count` images."""
        return {k: float(v) / count for k, v in sums.items()}

    def show(self, inputs: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
        """Rows of a progress grid (input | output | ground truth), images in [0, 1]."""
        return [inputs, output, target]
