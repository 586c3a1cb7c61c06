"""NMI and ARI between true labels and clusters, from the contingency table in numpy.

The same formulas as scikit-learn's normalized_mutual_info_score (arithmetic normalisation) and
adjusted_rand_score (tests/test_purity.py checks them against it), without importing
scikit-learn in every job: that import alone is ~1.4 s of each job's overhead.
"""

from __future__ import annotations

import numpy as np

from ablate.evaluate.purity import contingency


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Mutual information over the mean of the two entropies (natural log)."""
    m = contingency(labels, clusters).astype(np.float64)
    if m.shape[0] == m.shape[1] == 1:
        return 1.0  # one cluster that is one class: perfect agreement, as scikit-learn says
    n = m.sum()
    rows, cols = m.sum(axis=1), m.sum(axis=0)
    i, j = np.nonzero(m)
    nij = m[i, j]
    mi = float((nij / n * (np.log(nij) + np.log(n) - np.log(rows[i]) - np.log(cols[j]))).sum())
    if mi <= 0:
        return 0.0
    norm = (_entropy(rows) + _entropy(cols)) / 2
    return mi / max(norm, np.finfo(np.float64).eps)


def ari(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Rand index adjusted for chance, from the pair confusion matrix (exact integers)."""
    m = contingency(labels, clusters)
    n = int(m.sum())
    sum_squares = int((m.astype(np.int64) ** 2).sum())
    size_of_cluster, size_of_class = m.sum(axis=1), m.sum(axis=0)
    tp = sum_squares - n
    fp = int(m.T.dot(size_of_cluster).sum()) - sum_squares  # same cluster, different class
    fn = int(m.dot(size_of_class).sum()) - sum_squares  # same class, different cluster
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
