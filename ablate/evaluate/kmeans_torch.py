"""Batched k-means in torch: every (seed, restart) pair runs at once, as one set of matrix products.

The same algorithm as scikit-learn's `KMeans(n_init=..., random_state=seed)` with the Lloyd solver,
fed with the same random numbers: greedy k-means++ seeding (2 + log K candidates per step, the one
that lowers the potential most is kept) drawing from `numpy.random.RandomState(seed)` in the order
scikit-learn draws them, Lloyd iterations until the labels stop changing or the centres move less
than `tol` times the mean per-feature variance, a last assignment step, then per seed the restart
with the least inertia. So a seed clusters as scikit-learn's does, up to float32 rounding (which
can tip a near-tie and lead to another local optimum). Why it is faster: scikit-learn runs the
restarts one after another in float64; here the distances of all restarts are one float32 GEMM
per Lloyd step, and restarts that have converged drop out of the batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def kmeans_labels_batched(
    features: torch.Tensor,
    k: int,
    seeds: list[int],
    n_init: int,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster `features` (N, D) once per seed, keeping the best of `n_init` restarts by inertia.
    Returns (labels (S, N) int64, inertia (S,)) on the features' device."""
    x = features.float()
    x = x - x.mean(0)  # centred data: smaller norms, less float32 cancellation in |x|^2 - 2xc + |c|^2
    n = x.shape[0]
    if k > n:
        raise ValueError(f"k-means needs at least k={k} samples, got {n}")
    restarts = len(seeds) * n_init
    x_sq = (x * x).sum(1)
    centers = _kmeans_plus_plus(x, x_sq, k, _uniforms(seeds, n_init, k, x.device))
    tol_abs = tol * x.var(0, unbiased=False).mean()
    centers = _lloyd(x, x_sq, centers, max_iter, tol_abs)
    labels, best_sq = _assign(x, x_sq, centers)
    inertia = best_sq.sum(0).view(len(seeds), n_init)
    best = inertia.argmin(1)
    rows = torch.arange(len(seeds), device=x.device) * n_init + best
    assert labels.shape == (n, restarts)
    return labels[:, rows].T.contiguous(), inertia.gather(1, best[:, None]).squeeze(1)


def _uniforms(seeds: list[int], n_init: int, k: int, device: torch.device) -> torch.Tensor:
    """All the randomness, drawn up front as (restarts, k, trials) uniforms in float64, from
    RandomState(seed) in scikit-learn's order: per restart, one draw for the first centre
    (`choice(n)`), then `trials` draws per further centre. Seed s therefore clusters the same
    whatever other seeds run beside it, on any device."""
    trials = 2 + int(math.log(k))  # sklearn's n_local_trials
    u = np.zeros((len(seeds) * n_init, k, trials))
    for i, seed in enumerate(seeds):
        rng = np.random.RandomState(seed)
        for restart in u[i * n_init : (i + 1) * n_init]:
            restart[0, 0] = rng.random_sample()
            restart[1:] = rng.uniform(size=(k - 1, trials))
    return torch.from_numpy(u).to(device)


def _sq_dist(x: torch.Tensor, x_sq: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Squared distances (N, *c.shape[:-1]) of every point to every row of c (..., D), as one GEMM."""
    flat = c.reshape(-1, c.shape[-1])
    d = x_sq[:, None] + (flat * flat).sum(1)[None, :] - 2.0 * (x @ flat.T)
    return d.clamp_min_(0).view(x.shape[0], *c.shape[:-1])


def _kmeans_plus_plus(x: torch.Tensor, x_sq: torch.Tensor, k: int, u: torch.Tensor) -> torch.Tensor:
    """Greedy k-means++ for all restarts at once; u (R, k, trials) are the restarts' uniforms."""
    n = x.shape[0]
    r = u.shape[0]
    uniform_cdf = torch.arange(1, n + 1, device=x.device, dtype=torch.float64) / n
    first = torch.searchsorted(uniform_cdf, u[:, 0, 0].contiguous(), right=True).clamp_(max=n - 1)
    centers = [x[first]]  # (R, D) each
    closest = _sq_dist(x, x_sq, centers[0][:, None, :])[:, :, 0].T  # (R, N)
    for c in range(1, k):
        # candidates with probability proportional to the squared distance (inverse CDF, float64)
        cdf = closest.double().cumsum(1)
        cand = torch.searchsorted(cdf, u[:, c, :] * cdf[:, -1:]).clamp_(max=n - 1)  # (R, trials)
        dist = _sq_dist(x, x_sq, x[cand]).permute(1, 2, 0)  # (R, trials, N)
        dist = torch.minimum(dist, closest[:, None, :])
        pots = dist.sum(2)
        pick = pots.argmin(1)
        rows = torch.arange(r, device=x.device)
        closest = dist[rows, pick]
        centers.append(x[cand[rows, pick]])
    return torch.stack(centers, 1)  # (R, k, D)


def _assign(x: torch.Tensor, x_sq: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels (N, R), squared distance to the own centre (N, R)) for centres (R, k, D). The argmin
    needs only |c|^2 - 2xc (one fused GEMM); |x|^2 is added to the k-fold smaller minimum."""
    r, k, d = centers.shape
    flat = centers.reshape(r * k, d)
    partial = torch.addmm((flat * flat).sum(1), x, flat.T, alpha=-2.0).view(-1, r, k)
    best, labels = partial.min(2)
    return labels, (best + x_sq[:, None]).clamp_min_(0)


def _update(x: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor, best_sq: torch.Tensor) -> torch.Tensor:
    """New centres = means of their points (one GEMM with the one-hot assignment); an empty
    cluster takes the point farthest from its own centre, as sklearn relocates them."""
    r, k, d = centers.shape
    # one-hot over all restarts' clusters (N, R*k): the sums of every restart are one GEMM
    slot = labels + torch.arange(r, device=x.device) * k
    onehot = torch.zeros(x.shape[0], r * k, device=x.device, dtype=x.dtype).scatter_(1, slot, 1.0)
    counts = onehot.sum(0).view(r, k)
    sums = (onehot.T @ x).view(r, k, d)
    empty = counts == 0
    if bool(empty.any()):
        for ri in empty.any(1).nonzero().flatten().tolist():
            holes = empty[ri].nonzero().flatten()
            far = best_sq[:, ri].topk(len(holes)).indices
            for hole, point in zip(holes.tolist(), far.tolist(), strict=True):
                donor = int(labels[point, ri])
                sums[ri, donor] -= x[point]
                counts[ri, donor] -= 1
                sums[ri, hole], counts[ri, hole] = x[point], 1
    return sums / counts.clamp_min(1)[..., None]


def _lloyd(x: torch.Tensor, x_sq: torch.Tensor, centers: torch.Tensor, max_iter: int, tol: torch.Tensor):
    """Lloyd iterations; a restart stops when its labels repeat or its centres move < tol (squared,
    summed), as in sklearn; finished restarts leave the batch so stragglers run alone."""
    centers = centers.clone()
    active = torch.arange(centers.shape[0], device=x.device)
    previous = None
    for _ in range(max_iter):
        c = centers[active]
        labels, best_sq = _assign(x, x_sq, c)
        new = _update(x, labels, c, best_sq)
        shift = ((new - c) ** 2).sum((1, 2))
        centers[active] = new
        done = shift <= tol
        if previous is not None:
            done |= (labels == previous).all(0)
        keep = ~done
        if not bool(keep.any()):
            break
        active, previous = active[keep], labels[:, keep]
    return centers
