"""Segmentation, U-Net's original job: per-pixel classification with cross-entropy.

Offline masks from labelled digits: every pixel brighter than 0.5 takes the image's class
(label + 1) and the rest is background (0): 11 classes for MNIST. Quality: pixel accuracy and
mean IoU over the classes present in the ground truth, background included."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ablate.tasks.base import Task
from ablate.tasks.colorize import luma
from ablate.tasks.metrics import SEGMENT_METRICS, confusion, segmentation_scores

THRESHOLD = 0.5


def digit_masks(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N, H, W) int64: label + 1 where the (luma of the) image is above THRESHOLD, else 0."""
    gray = images if images.shape[1] == 1 else luma(images)
    return torch.where(gray[:, 0] > THRESHOLD, labels.view(-1, 1, 1) + 1, 0)


def _palette(classes: int, device) -> torch.Tensor:
    """A fixed colour per class (background black) for the progress grids."""
    g = torch.Generator().manual_seed(0)
    colours = torch.rand(classes, 3, generator=g) * 0.8 + 0.2
    colours[0] = 0
    return colours.to(device)


class Segment(Task):
    metrics = SEGMENT_METRICS  # miou and pixel_acc, not the image metrics
    classes = 11  # 10 digits + background

    def output(self, raw):
        return raw  # logits: cross-entropy applies the softmax

    def check(self, channels: int, labelled: bool) -> str | None:
        if not labelled:
            return "task=segment needs a labelled dataset (data.labelled=true) to build its masks"
        return None

    def out_channels(self, data_channels: int) -> int:
        return self.classes

    def batch(self, images, labels):
        return images, digit_masks(images, labels)

    def loss(self, output, target):
        return F.cross_entropy(output.float(), target)

    def metric_sums(self, output, target):
        return {"confusion": confusion(output.argmax(1), target, self.classes)}

    def reduce(self, sums, count):
        return segmentation_scores(sums["confusion"].cpu())

    def show(self, inputs, output, target):
        colours = _palette(self.classes, output.device)
        paint = lambda mask: colours[mask].permute(0, 3, 1, 2)  # noqa: E731
        return [inputs, paint(output.argmax(1)), paint(target)]
