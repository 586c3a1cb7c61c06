"""CIFAR-10 (60,000 labelled 32x32 colour images, 10 classes) from the python-version batches.

Reads the files torchvision's CIFAR10 extracts to `<root>/cifar-10-batches-py/`: `data_batch_1`
.. `data_batch_5` (train, 50,000) and `test_batch` (10,000). Each is a pickled dict (written by
Python 2, so its keys are bytes) with b"data", a uint8 (10000, 3072) array whose rows are the
red, green and blue 32x32 planes in row-major order, and b"labels", a list of ints 0..9
(https://www.cs.toronto.edu/~kriz/cifar.html). Unpickling runs code from the file: only read
archives from that page (torchvision's download checks their md5). data.split picks `train`,
`test` or both; the fixed stratified train/eval split of ablate.data.base then applies.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ablate.data.base import ImageSet, cache_dir
from ablate.data.files import labelled_pair, require

FOLDER = "cifar-10-batches-py"
FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def load(
    root: str | None = None,
    download: bool = False,
    split: str = "train+test",
    eval_fraction: float = 0.2,
    split_seed: int = 0,
    limit: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    if split not in FILES and split != "train+test":
        raise ValueError(f"data.split={split} is not allowed for cifar10 (allowed: train+test, train, test)")
    base = cache_dir(root).absolute()
    paths = [
        base / FOLDER / f for part in (["train", "test"] if split == "train+test" else [split]) for f in FILES[part]
    ]

    def fetch() -> None:
        from torchvision.datasets import CIFAR10

        CIFAR10(str(base), train=False, download=True)  # one archive holds both halves

    what = (
        "the extracted python version of CIFAR-10 (cifar-10-python.tar.gz, https://www.cs.toronto.edu/~kriz/cifar.html)"
    )
    require("cifar10", paths, download=download, fetch=fetch, what=what)
    batches = [read_batch(p) for p in paths]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return labelled_pair(images, labels, "cifar10", eval_fraction, split_seed, limit)
