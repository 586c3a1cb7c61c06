"""Self-reconstruction: the target is the input."""

from __future__ import annotations

import torch

from ablate.tasks.base import Task


def image_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The article's loss: squared error averaged over channels, SUMMED over height and width
    (per image), then averaged over the batch."""
    per_pixel = (output - target).pow(2).mean(dim=1)
    return per_pixel.sum(dim=(1, 2)).mean()


class Autoencode(Task):
    def out_channels(self, data_channels: int) -> int:
        return data_channels

    def batch(self, images, labels):
        return images, images

    def loss(self, output, target):
        return image_loss(output, target)
