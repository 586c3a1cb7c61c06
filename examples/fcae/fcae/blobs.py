"""A dataset of one's own: labelled images made on the fly, no files. Each class is a bright
square at its own place on a dark field, jittered by a pixel or two and with a little noise."""

from __future__ import annotations

import numpy as np
import torch

from ablate.data import ImageSet


def load(image_size: list[int], n: int = 600, classes: int = 4, seed: int = 0) -> ImageSet:
    h, w = image_size
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = rng.normal(0.1, 0.05, size=(n, 1, h, w))
    side = max(2, min(h, w) // 4)
    for i, c in enumerate(labels):
        top = (c * side) % (h - side) + rng.integers(0, 2)
        left = (c * 2 * side) % (w - side) + rng.integers(0, 2)
        images[i, 0, top : top + side, left : left + side] += 0.8
    images = torch.from_numpy(images.clip(0, 1).astype(np.float32))
    return ImageSet(images, torch.from_numpy(labels.astype(np.int64)), "blobs")
