import numpy as np
import pytest
from sklearn.datasets import make_blobs

from ablate.evaluate import cluster_quality, purity
from ablate.evaluate.purity import contingency


def test_purity_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    # cluster 0: {0,0,1} -> 2; cluster 1: {0,1,1} -> 2; cluster 2: {2,2,2,2} -> 4  => 8/10
    clusters = np.array([0, 0, 1, 0, 1, 1, 2, 2, 2, 2])
    assert purity(labels, clusters) == pytest.approx(0.8)
    assert contingency(labels, clusters).tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 4]]


def test_purity_extremes_and_label_names():
    labels = np.array([5, 5, 7, 7, 9, 9])
    assert purity(labels, np.array([2, 2, 0, 0, 1, 1])) == 1.0  # cluster ids need not match labels
    assert purity(labels, np.zeros(6, dtype=int)) == pytest.approx(2 / 6)  # one cluster: largest label
    assert purity(labels, np.arange(6)) == 1.0  # singletons are trivially pure


def test_purity_rejects_mismatched_input():
    with pytest.raises(ValueError, match="equal-length"):
        purity(np.array([0, 1]), np.array([0]))


def test_cluster_quality_on_separable_and_on_noise():
    x, y = make_blobs(n_samples=300, centers=3, cluster_std=0.3, random_state=0)
    q = cluster_quality(x, y, seeds=3, n_init=2)
    assert q["purity_mean"] == 1.0 and q["nmi_mean"] == pytest.approx(1.0) and q["ari_mean"] == pytest.approx(1.0)
    assert q["purity_std"] == 0.0 and q["latent_dim"] == 2
    noise = np.random.default_rng(0).normal(size=(300, 5))
    q = cluster_quality(noise, y, seeds=3, n_init=1)
    assert q["purity_mean"] < 0.5 and abs(q["ari_mean"]) < 0.05


def test_nmi_and_ari_match_scikit_learn():
    """ablate's numpy NMI/ARI (no scikit-learn import in a job) agree with scikit-learn's, edge cases included."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from ablate.evaluate.agreement import ari, nmi

    rng = np.random.default_rng(0)
    cases = [(np.zeros(5, int), np.zeros(5, int)), (np.zeros(5, int), np.arange(5)), (np.arange(6), np.arange(6))]
    for _ in range(100):
        n, k1, k2 = rng.integers(1, 80), rng.integers(1, 7), rng.integers(1, 12)
        a = rng.integers(0, k1, n)
        cases.append((a, rng.integers(0, k2, n)))
        cases.append((a, (a * 7 + 3) % 11))  # a relabelling: perfect agreement
    for a, b in cases:
        assert nmi(a, b) == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)
        assert ari(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert nmi(np.arange(4), np.array([0, 0, 1, 1])) < 1
    assert ari(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) == pytest.approx(-0.5)  # worse than chance
