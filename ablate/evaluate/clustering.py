"""k-means on features for several seeds; purity, NMI and ARI against the labels."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ablate.evaluate.purity import purity


def kmeans_labels(features: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)


def cluster_quality(features: np.ndarray, labels: np.ndarray, seeds: int, n_init: int) -> dict[str, float]:
    """k-means with K = number of classes, once per seed 0..seeds-1 (n_init restarts each).
    The std is the population std over seeds (ddof=0), as the article reports it."""
    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    scores: dict[str, list[float]] = {"purity": [], "nmi": [], "ari": []}
    for seed in range(seeds):
        clusters = kmeans_labels(features, k, seed, n_init)
        scores["purity"].append(purity(labels, clusters))
        scores["nmi"].append(normalized_mutual_info_score(labels, clusters))
        scores["ari"].append(adjusted_rand_score(labels, clusters))
    out = {f"{name}_mean": float(np.mean(v)) for name, v in scores.items()}
    out.update({f"{name}_std": float(np.std(v)) for name, v in scores.items()})
    out["latent_dim"] = float(features.shape[1])
    return out
