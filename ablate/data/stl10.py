"""STL-10 (96x96 colour): 13,000 labelled images in 10 classes, and 100,000 unlabelled ones.

Reads the binary files torchvision's STL10 extracts to `<root>/stl10_binary/`
(https://cs.stanford.edu/~acoates/stl10/): `*_X.bin` hold uint8 images of 3x96x96 bytes, one
channel plane after another, each plane stored column-major (as MATLAB writes it), so an image
read in C order must have its last two axes swapped; `*_y.bin` hold one uint8 label 1..10 per
image; `class_names.txt` names them one per line ("cat" is the 4th: label 4, index 3).

- data.split=train+test (data=stl10): the 5,000 + 8,000 labelled images, for autoencoding and
  purity; the fixed stratified train/eval split of ablate.data.base applies.
- data.split=unlabeled (data=stl10_unlabeled): the 100,000 unlabelled images to train on (for
  colorization) and, as the eval set, the 800 test images of class cat (the article tested its
  colorization on cats); labels None.

The X files are memory-mapped and only the images kept (data.limit) become float32, a chunk at
a time: all 100,000 unlabelled images take ~11 GB as float32 (2.8 GB on disk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ablate.data.base import ImageSet, cache_dir
from ablate.data.files import labelled_pair, pair_sizes, require, to_images

FOLDER = "stl10_binary"
SHAPE = (3, 96, 96)  # as stored: channel, then column-major pixels, i.e. (C, W, H) in C order
CAT = 3  # index of "cat" in the published class_names.txt, used if the file is absent


def read_images(path: Path) -> np.ndarray:
    """A memory map of an X file, shaped (N, 3, W, H): swap the last two axes for (N, 3, H, W)."""
    size = path.stat().st_size
    if size % int(np.prod(SHAPE)):
        raise ValueError(f"{path}: {size} bytes is not a whole number of 3x96x96 images")
    return np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, *SHAPE)


def read_labels(path: Path) -> np.ndarray:
    """A y file as int64 class indices 0..9 (stored 1..10)."""
    return np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1


def cat_index(folder: Path) -> int:
    names_file = folder / "class_names.txt"
    if not names_file.exists():
        return CAT
    return names_file.read_text().split().index("cat")


def load(
    root: str | None = None,
    download: bool = False,
    split: str = "train+test",
    eval_fraction: float = 0.2,
    split_seed: int = 0,
    limit: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    folder = cache_dir(root).absolute() / FOLDER
    parts = {"train+test": ["train", "test"], "train": ["train"], "test": ["test"], "unlabeled": ["unlabeled"]}
    if split not in parts:
        raise ValueError(f"data.split={split} is not allowed for stl10 (allowed: {', '.join(parts)})")
    needed = ["test"] if split == "unlabeled" else []  # the unlabelled variant's eval cats
    paths = [folder / f"{p}_X.bin" for p in parts[split] + needed]
    paths += [folder / f"{p}_y.bin" for p in parts[split] + needed if p != "unlabeled"]

    def fetch() -> None:
        from torchvision.datasets import STL10

        STL10(str(folder.parent), split="test", download=True)  # one archive holds every split

    what = "the extracted binary STL-10 (stl10_binary.tar.gz, https://cs.stanford.edu/~acoates/stl10/)"
    require("stl10", paths, download=download, fetch=fetch, what=what)

    if split != "unlabeled":
        xs = [read_images(folder / f"{p}_X.bin") for p in parts[split]]
        images = xs[0] if len(xs) == 1 else np.concatenate(xs)  # 13,000 labelled images: 360 MB of uint8
        labels = np.concatenate([read_labels(folder / f"{p}_y.bin") for p in parts[split]])
        if len(images) != len(labels):
            raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels")
        return labelled_pair(images, labels, "stl10", eval_fraction, split_seed, limit, transpose=True)

    unlabelled = read_images(folder / "unlabeled_X.bin")
    cats = np.flatnonzero(read_labels(folder / "test_y.bin") == cat_index(folder))
    n_train, n_eval = pair_sizes(len(unlabelled), len(cats), limit, eval_fraction)
    # the first n_train unlabelled images (a contiguous read) and the first n_eval test cats
    train = ImageSet(to_images(unlabelled, np.arange(n_train), transpose=True), None, "stl10_unlabeled")
    evals = ImageSet(to_images(read_images(folder / "test_X.bin"), cats[:n_eval], transpose=True), None, "stl10_cats")
    return train, evals
