"""Latent evaluation: the 10 k-means seeds x n_init restarts, scikit-learn against the batched
torch k-means, on raw bundled MNIST (784 dims, K = 10), and how the torch one scales with N.

scikit-learn runs in a worker that never imports torch, at 1 and at 2 threads (on 2 cores its
OpenMP Lloyd is often no faster with 2), and the faster of the two is the reference.
"""

from __future__ import annotations

from benchmarks.common import worker


def _run(backend: str, n: int, threads: int, seeds: int = 10, n_init: int = 10) -> dict:
    return worker("kmeans", {"backend": backend, "n": n, "seeds": seeds, "n_init": n_init}, threads=threads)


def compare(n: int, seeds: int = 10, n_init: int = 10) -> dict:
    sk = {t: _run("sklearn", n, t, seeds, n_init) for t in (1, 2)}
    best_t = min(sk, key=lambda t: sk[t]["seconds"])
    ours = _run("torch", n, 2, seeds, n_init)
    return {
        "n": n,
        "seeds": seeds,
        "n_init": n_init,
        "sklearn": sk[best_t],
        "sklearn_threads": best_t,
        "sklearn_other": sk[3 - best_t],
        "torch": ours,
        "speedup": sk[best_t]["seconds"] / ours["seconds"],
        "purity_diff": ours["purity_mean"] - sk[best_t]["purity_mean"],
        # the standard error of that difference: k-means seeds scatter purity by about +-0.01 each
        "purity_diff_se": ((ours["purity_std"] ** 2 + sk[best_t]["purity_std"] ** 2) / seeds) ** 0.5,
    }


def scale(sizes: list[int]) -> list[dict]:
    """Torch k-means seconds (10 seeds x 10 restarts, 2 threads) for N raw images."""
    return [{"n": n, **_run("torch", n, 2)} for n in sizes]
