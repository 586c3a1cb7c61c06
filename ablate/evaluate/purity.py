"""Cluster purity as the article defines it: the 2019 blog article "U-Net as an autoencoder
(from self-reconstruction to colorizing grayscale images)"."""

from __future__ import annotations

import numpy as np


def contingency(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """M[cluster, label]: how many samples of each label fell in each cluster."""
    _, label_idx = np.unique(labels, return_inverse=True)
    _, cluster_idx = np.unique(clusters, return_inverse=True)
    m = np.zeros((cluster_idx.max() + 1, label_idx.max() + 1), dtype=np.int64)
    np.add.at(m, (cluster_idx, label_idx), 1)
    return m


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Sum of the row maxima of M over N: per-cluster purity weighted by cluster size.
    1.0 means every cluster holds a single label."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    if labels.shape != clusters.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            f"labels and clusters must be equal-length 1-D arrays, got {labels.shape} and {clusters.shape}"
        )
    return float(contingency(labels, clusters).max(axis=1).sum() / labels.size)
