"""The interface every task implements, and lookup by dotted path."""

from __future__ import annotations

import importlib

import torch

from ablate.tasks.metrics import image_sums


class Task:
    """Image-to-image by default: outputs in [0, 1], PSNR and SSIM as quality metrics."""

    name = "task"
    final_activation: str | None = "sigmoid"  # None for logits (segmentation)

    def check(self, channels: int, labelled: bool) -> str | None:
        """None if the task can run on this data, else a one-line reason."""
        return None

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


def load_task(impl: str) -> Task:
    module, _, cls = impl.rpartition(".")
    return getattr(importlib.import_module(module), cls)()
