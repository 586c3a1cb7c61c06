"""Colour photos bundled with scikit-image, cut into crops: offline, no download, unlabelled.

Train: data.crops random crops of data.image_size (96x96 by default), each flipped left-right
with probability 1/2, from eight photos (astronaut, coffee, rocket, hubble_deep_field,
immunohistochemistry, retina, colorwheel and the left view of stereo_motorcycle), a photo
drawn uniformly per crop so the large ones do not dominate. The crops are drawn once, seeded
by data.split_seed, so every epoch and every job sees the same set.

Eval: the cat `chelsea` only, held out as the colorization test image (the article tested
colorization on cats): first the whole cat (centre square, LANCZOS-resized to data.image_size),
then data.eval_crops - 1 random crops of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ablate.data.base import ImageSet
from ablate.data.files import pair_sizes

TRAIN_PHOTOS = (
    "astronaut",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "stereo_motorcycle",
)
HELD_OUT = "chelsea"


def photo(name: str) -> np.ndarray:
    """One skimage photo as uint8 (H, W, 3); stereo_motorcycle returns (left, right, disparity)."""
    from skimage import data

    image = getattr(data, name)()
    if isinstance(image, tuple):
        image = image[0]
    return np.ascontiguousarray(image[..., :3])


def random_crops(photos: list[np.ndarray], n: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """n crops of `size` (H, W), each from a photo drawn uniformly, flipped left-right half the time."""
    h, w = size
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        image = photos[rng.integers(len(photos))]
        top, left = rng.integers(image.shape[0] - h + 1), rng.integers(image.shape[1] - w + 1)
        crop = image[top : top + h, left : left + w]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out


def whole(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centre square of a photo, LANCZOS-resized to `size` (H, W)."""
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size[1], size[0]), Image.Resampling.LANCZOS))


def _to_set(hwc: np.ndarray, name: str) -> ImageSet:
    images = torch.from_numpy(np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))).float().div_(255.0)
    return ImageSet(images, None, name)


def load(
    image_size: Sequence[int] = (96, 96),
    crops: int = 512,
    eval_crops: int = 64,
    split_seed: int = 0,
    limit: int | None = None,
    eval_fraction: float = 0.2,
) -> tuple[ImageSet, ImageSet]:
    size = (int(image_size[0]), int(image_size[1]))
    train_photos = [photo(name) for name in TRAIN_PHOTOS]
    cat = photo(HELD_OUT)
    smallest = min(min(p.shape[:2]) for p in [*train_photos, cat])
    if max(size) > smallest:
        raise ValueError(f"data.image_size={list(size)} is not allowed for photos: crops must fit in {smallest} pixels")
    n_train, n_eval = pair_sizes(crops, eval_crops, limit, eval_fraction)
    # separate streams: changing data.crops leaves the eval crops as they were, and vice versa
    train = random_crops(train_photos, n_train, size, np.random.default_rng([split_seed, 0]))
    cat_crops = random_crops([cat], n_eval - 1, size, np.random.default_rng([split_seed, 1]))
    evals = np.concatenate([whole(cat, size)[None], cat_crops])
    return _to_set(train, "photos"), _to_set(evals, "photos_chelsea")
