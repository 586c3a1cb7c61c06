"""A task of one's own: denoising. The input is the image with Gaussian noise added (drawn from
torch's global generator, which ablate seeds from `seed` and keeps in its checkpoints, so a rerun
or a resumed run draws the same noise); the target is the clean image. Same loss as
autoencoding, and a metric of its own, declared where it is computed: the mean absolute error,
which reaches the report's tables and summary, the console's per-arm table and the MLflow view
with no edit under ablate/."""

from __future__ import annotations

import torch

from ablate.config.metrics import Metric
from ablate.tasks import Task
from ablate.tasks.autoencode import image_loss

MAE = Metric("mae", "mean abs. error", "lower", format=".4f", per_epoch=True, key=True)


class Denoise(Task):
    metrics = (*Task.metrics, MAE)  # PSNR and SSIM, as for any image task, and its own

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

    def metric_sums(self, output, target):
        # additive over batches: summed per image here, divided by the image count in `reduce`
        mae = (output.float() - target).abs().flatten(1).mean(1).sum()
        return {**super().metric_sums(output, target), "mae": mae}
