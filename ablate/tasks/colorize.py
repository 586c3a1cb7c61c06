"""Colorization: the input is the luma of a colour image, the target its RGB (the article's
second experiment). Same loss as autoencoding."""

from __future__ import annotations

import torch

from ablate.tasks.autoencode import image_loss
from ablate.tasks.base import Task

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B


def luma(rgb: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


class Colorize(Task):
    def check(self, channels: int, labelled: bool) -> str | None:
        if channels != 3:
            return (
                f"task=colorize needs colour images (data.channels=3) but the dataset has {channels} "
                "channel(s) (allowed: a colour dataset such as data=photos, cifar10 or stl10)"
            )
        return None

    def in_channels(self, data_channels: int) -> int:
        return 1

    def out_channels(self, data_channels: int) -> int:
        return 3

    def batch(self, images, labels):
        return luma(images), images

    def loss(self, output, target):
        return image_loss(output, target)
