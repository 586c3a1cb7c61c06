"""A task of one's own: denoising. The input is the image with Gaussian noise added (drawn from
torch's global generator, which ablate seeds from `seed` and keeps in its checkpoints, so a rerun
or a resumed run draws the same noise); the target is the clean image. Same loss and quality
metrics as autoencoding."""

from __future__ import annotations

import torch

from ablate.tasks import Task
from ablate.tasks.autoencode import image_loss


class Denoise(Task):
    def __init__(self, sigma: float = 0.3):
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.sigma = sigma

    def out_channels(self, data_channels: int) -> int:
        return data_channels

    def batch(self, images, labels):
        return (images + self.sigma * torch.randn_like(images)).clamp(0, 1), images

    def loss(self, output, target):
        return image_loss(output, target)
