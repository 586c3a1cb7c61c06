"""MNIST and Fashion-MNIST (70,000 labelled 28x28 grey images each) from their idx files.

The files are the ones torchvision's MNIST / FashionMNIST download to `<root>/MNIST/raw/` and
`<root>/FashionMNIST/raw/` (each file plain or .gz). data.split picks `train` (60,000), `test`
(10,000) or both; the fixed stratified train/eval split of ablate.data.base then applies.

The idx format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08: uint8),
the number of dimensions, one big-endian int32 per dimension, then the values in C order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ablate.data.base import ImageSet, cache_dir
from ablate.data.files import labelled_pair, require

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """One idx file of unsigned bytes (plain or gzip) as a uint8 array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    zeros, kind, ndim = raw[:2], raw[2], raw[3]
    if zeros != b"\0\0" or kind != 0x08:
        raise ValueError(f"{path} is not an idx file of unsigned bytes (header {raw[:4].hex()})")
    shape = tuple(np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _found(path: Path) -> Path | None:
    """The file itself, else its .gz (torchvision keeps both after extracting)."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            return candidate
    return None


def _load(
    folder: str,
    name: str,
    root: str | None,
    download: bool,
    split: str,
    eval_fraction: float,
    split_seed: int,
    limit: int | None,
) -> tuple[ImageSet, ImageSet]:
    base = cache_dir(root).absolute()
    raw = base / folder / "raw"
    if split not in FILES and split != "train+test":
        raise ValueError(f"data.split={split} is not allowed for {name} (allowed: train+test, train, test)")
    parts = ["train", "test"] if split == "train+test" else [split]

    def fetch() -> None:
        import torchvision.datasets

        # both halves: the class downloads all four files whichever half it is asked for
        getattr(torchvision.datasets, folder)(str(base), train=True, download=True)

    paths = [raw / f for part in parts for f in FILES[part]]
    what = f"the four {folder} idx files (plain or .gz) that torchvision's {folder} downloads"
    require(name, paths, download=download, fetch=fetch, what=what, exists=lambda p: _found(p) is not None)
    images = np.concatenate([read_idx(_found(raw / FILES[part][0])) for part in parts])
    labels = np.concatenate([read_idx(_found(raw / FILES[part][1])) for part in parts])
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"{raw}: expected 28x28 images with one label each, got {images.shape} and {labels.shape}")
    return labelled_pair(images[:, None], labels, name, eval_fraction, split_seed, limit)


def load_mnist(
    root: str | None = None,
    download: bool = False,
    split: str = "train+test",
    eval_fraction: float = 0.2,
    split_seed: int = 0,
    limit: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    return _load("MNIST", "mnist", root, download, split, eval_fraction, split_seed, limit)


def load_fashion_mnist(
    root: str | None = None,
    download: bool = False,
    split: str = "train+test",
    eval_fraction: float = 0.2,
    split_seed: int = 0,
    limit: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    return _load("FashionMNIST", "fashion_mnist", root, download, split, eval_fraction, split_seed, limit)
