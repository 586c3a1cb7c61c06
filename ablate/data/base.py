"""What every dataset returns, and the fixed train/eval split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    labels: torch.Tensor | None  # (N,) int64, or None for unlabelled data
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: np.ndarray) -> ImageSet:
        idx = torch.as_tensor(index, dtype=torch.long)
        labels = None if self.labels is None else self.labels[idx]
        return ImageSet(self.images[idx], labels, self.name)


def cache_dir(root: str | None) -> Path:
    """Where datasets and their .npy caches live: data.root, else $XDG_CACHE_HOME/ablate."""
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ablate"


def _stratified_order(labels: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """A fixed shuffle that interleaves classes, so any prefix is (nearly) class-balanced."""
    rng = np.random.default_rng(seed)
    if labels is None:
        return rng.permutation(n)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    # rank each image within its class, then order by rank: c0, c1, ..., c9, c0, c1, ...
    rank = np.empty(n, dtype=np.int64)
    for members in per_class:
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))


def split(data: ImageSet, eval_fraction: float, seed: int, limit: int | None = None) -> tuple[ImageSet, ImageSet]:
    """Deterministic, stratified train/eval split, independent of the training seed."""
    labels = None if data.labels is None else data.labels.numpy()
    order = _stratified_order(labels, len(data), seed)
    if limit is not None:
        order = order[:limit]
    n_eval = max(1, round(len(order) * eval_fraction))
    eval_idx, train_idx = np.sort(order[:n_eval]), np.sort(order[n_eval:])
    return data.subset(train_idx), data.subset(eval_idx)


PER_CLASS = 2  # k-means into k clusters of fewer than 2k images puts nearly each alone: purity ~ 1.0


def eval_too_small(train: ImageSet, eval_set: ImageSet) -> str | None:
    """Why this labelled eval split is too small to score a latent space by k-means purity (one line
    with the minimum), or None."""
    if eval_set.labels is None:
        return None
    labels = eval_set.labels if train.labels is None else torch.cat([train.labels, eval_set.labels])
    classes = int(labels.unique().numel())
    if len(eval_set) >= PER_CLASS * classes:
        return None
    return (
        f"data: the eval split has {len(eval_set)} images for {classes} classes; k-means purity needs at least "
        f"{PER_CLASS * classes} (allowed: a larger data.limit or data.eval_fraction, or eval.latent=false)"
    )
