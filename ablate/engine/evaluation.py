"""The eval pass: a model's mean loss and quality metrics over a dataset, in eval mode (the
loop's per-epoch eval loss; the job's progress grids and final evaluation call it too)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ablate.data import ImageSet
from ablate.engine.setup import autocast
from ablate.tasks import Task

EVAL_BATCH_FACTOR = 4  # the eval pass's batch, in training batches (no gradients kept: more fit)


def eval_batch_size(batch_size: int) -> int:
    """The eval pass's batch size for a training batch size."""
    return EVAL_BATCH_FACTOR * batch_size


@dataclass
class Evaluation:
    loss: float
    quality: dict[str, float]  # the task's metrics: psnr/ssim, or miou/pixel_acc
    outputs: torch.Tensor | None = None
    latents: torch.Tensor | None = None


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Task,
    data: ImageSet,
    batch_size: int,
    device: torch.device,
    keep: bool = False,
    dtype: torch.dtype | None = None,
) -> Evaluation:
    """Mean loss and quality metrics over a dataset in eval mode; with keep, outputs and latents.
    `dtype`: the autocast dtype (None: fp32)."""
    model.eval()
    outputs, latents = [], []
    loss_sum, sums = torch.zeros((), device=device), {}
    for start in range(0, len(data), batch_size):
        images = data.images[start : start + batch_size].to(device)
        labels = None if data.labels is None else data.labels[start : start + batch_size].to(device)
        inputs, target = task.batch(images, labels)
        with autocast(device, dtype):
            raw, latent = model(inputs)
            output = task.output(raw)
            loss_sum += task.loss(output, target).float() * images.shape[0]
        output = output.float()  # metrics in fp32 (a no-op without autocast)
        for key, value in task.metric_sums(output, target).items():
            sums[key] = sums[key] + value if key in sums else value
        if keep:
            outputs.append(output.float().cpu())
            latents.append(latent.float().cpu())
    model.train()
    return Evaluation(
        loss=loss_sum.item() / len(data),
        quality=task.reduce(sums, len(data)),
        outputs=torch.cat(outputs) if keep else None,
        latents=torch.cat(latents) if keep else None,
    )
