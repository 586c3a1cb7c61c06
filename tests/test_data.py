import numpy as np

from ablate.data import split
from ablate.data.mnist5k import load as load_mnist5k


def test_mnist5k_is_real_and_cached(tmp_path):
    first = load_mnist5k(root=str(tmp_path))
    assert first.images.shape == (5000, 1, 28, 28) and first.images.dtype.is_floating_point
    assert 0 <= first.images.min() and first.images.max() == 1.0
    assert np.bincount(first.labels.numpy()).tolist() == [500] * 10
    assert (tmp_path / "mnist5k" / "images.npy").exists()
    again = load_mnist5k(root=str(tmp_path))
    assert (again.images == first.images).all()


def test_split_is_fixed_stratified_and_disjoint(tmp_path):
    data = load_mnist5k(root=str(tmp_path))
    train, evals = split(data, 0.2, seed=0)
    assert len(train) == 4000 and len(evals) == 1000
    assert np.bincount(evals.labels.numpy()).tolist() == [100] * 10
    train2, evals2 = split(data, 0.2, seed=0)
    assert (evals.images == evals2.images).all()
    small_train, small_eval = split(data, 0.2, seed=0, limit=300)
    assert len(small_train) + len(small_eval) == 300
    assert np.bincount(small_train.labels.numpy()).min() >= 23  # still class-balanced
    # no image in both halves
    flat = {bytes(x.numpy()) for x in evals.images[:200]}
    assert not any(bytes(x.numpy()) in flat for x in train.images[:2000])
