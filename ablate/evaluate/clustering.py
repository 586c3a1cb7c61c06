"""k-means on features for several seeds; purity, NMI and ARI against the labels.

Two interchangeable k-means backends (`eval.kmeans`): `sklearn` (KMeans, one seed after another)
and `torch` (ablate.evaluate.kmeans_torch: all seeds x restarts batched, on any device). Same
algorithm and the same random numbers per seed: the clusterings agree up to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from ablate.evaluate.agreement import ari, nmi
from ablate.evaluate.purity import purity

BACKENDS = ("sklearn", "torch")


def kmeans_labels(features: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    from sklearn.cluster import KMeans  # imported only for this backend: ~1.4 s of a job's start

    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)


def _all_labels(features: np.ndarray, k: int, seeds: int, n_init: int, backend: str, device) -> np.ndarray:
    """(seeds, N) cluster labels, one row per k-means seed 0..seeds-1."""
    if backend == "sklearn":
        return np.stack([kmeans_labels(features, k, seed, n_init) for seed in range(seeds)])
    if backend == "torch":
        import torch

        from ablate.evaluate.kmeans_torch import kmeans_labels_batched

        x = torch.as_tensor(features, dtype=torch.float32, device=device or "cpu")
        labels, _ = kmeans_labels_batched(x, k, list(range(seeds)), n_init)
        return labels.cpu().numpy()
    raise ValueError(f"k-means backend {backend!r} is not allowed (allowed: {', '.join(BACKENDS)})")


def cluster_quality(
    features: np.ndarray, labels: np.ndarray, seeds: int, n_init: int, backend: str = "sklearn", device=None
) -> dict[str, float]:
    """k-means with K = number of classes, once per seed 0..seeds-1 (n_init restarts each).
    The std is the population std over seeds (ddof=0), as the article reports it. `device` is
    where the torch backend runs (None: CPU)."""
    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    scores: dict[str, list[float]] = {"purity": [], "nmi": [], "ari": []}
    for clusters in _all_labels(features, k, seeds, n_init, backend, device):
        scores["purity"].append(purity(labels, clusters))
        scores["nmi"].append(nmi(labels, clusters))
        scores["ari"].append(ari(labels, clusters))
    out = {f"{name}_mean": float(np.mean(v)) for name, v in scores.items()}
    out.update({f"{name}_std": float(np.std(v)) for name, v in scores.items()})
    out["latent_dim"] = float(features.shape[1])
    return out
