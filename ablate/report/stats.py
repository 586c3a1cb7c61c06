"""The report's statistics, plain functions on numbers (checked against scipy.stats in the tests).

Two sources of variance are kept apart: training seeds (replicates, the runs of one cell) are
what these functions see; the k-means-seed spread inside one run is a separate column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


def summarize(values) -> dict[str, float]:
    """mean, std (ddof=1), n and the 95% t interval of the finite values (NaN where n is too small)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    n = len(x)
    mean = float(np.mean(x)) if n else math.nan
    std = float(np.std(x, ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(1 - ALPHA / 2, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "n": n, "ci_low": mean - half, "ci_high": mean + half}


@dataclass
class Test:
    """A linear contrast of cell means, sum_c w_c * mean_c, and its test against 0."""

    kind: str  # 'paired t' | 'Welch t' | 'no test (n = 1)' | 'not estimable'
    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    df: float = math.nan
    t: float = math.nan
    p: float = math.nan
    n: int = 0  # paired: shared seeds; Welch / no test: the smallest cell
    p_holm: float = math.nan
    se: float = math.nan  # the estimate's standard error (the claims' intervals are built from it)

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p)


def _t_test(kind: str, estimate: float, se: float, df: float, n: int) -> Test:
    """The t test of an estimate with standard error se on df degrees of freedom, two-sided."""
    if se <= 1e-12 * max(1.0, abs(estimate)):  # no spread beyond rounding: nothing to test
        return Test("no test (no spread)", estimate, n=n)
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    t = estimate / se
    p = float(2 * stats.t.sf(abs(t), df))
    return Test(kind, estimate, estimate - half, estimate + half, df, t, p, n, se=se)


def contrast(weights: list[float], samples: list[dict[object, float]]) -> Test:
    """Test a contrast of cells given as {seed: value}.

    Seeds shared by every cell (at least 2) pair the cells: a one-sample t on the per-seed
    contrast (with weights +1, -1 exactly scipy's ttest_rel). Otherwise Welch: each cell's
    variance over its own seeds, Welch-Satterthwaite degrees of freedom (with +1, -1 exactly
    ttest_ind(equal_var=False)). A cell with no value makes the contrast not estimable; a cell
    with one value allows a point estimate but no test."""
    samples = [{k: v for k, v in s.items() if v is not None and math.isfinite(v)} for s in samples]
    sizes = [len(s) for s in samples]
    if not samples or min(sizes) == 0:
        return Test("not estimable")
    shared = sorted(set.intersection(*(set(s) for s in samples)), key=str)
    if len(shared) >= 2:
        d = np.array([sum(w * s[k] for w, s in zip(weights, samples, strict=True)) for k in shared])
        est, n = float(d.mean()), len(d)
        return _t_test("paired t", est, float(d.std(ddof=1)) / math.sqrt(n), n - 1, n)
    means = [float(np.mean(list(s.values()))) for s in samples]
    est = float(sum(w * m for w, m in zip(weights, means, strict=True)))
    if min(sizes) < 2:
        return Test("no test (n = 1)", est, n=min(sizes))
    parts = [w * w * float(np.var(list(s.values()), ddof=1)) / len(s) for w, s in zip(weights, samples, strict=True)]
    var = sum(parts)
    df = var * var / sum(q * q / (len(s) - 1) for q, s in zip(parts, samples, strict=True)) if var > 0 else math.inf
    return _t_test("Welch t", est, math.sqrt(var), df, min(sizes))


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    index = sorted((i for i, p in enumerate(pvalues) if math.isfinite(p)), key=lambda i: (pvalues[i], i))
    out, running, m = [math.nan] * len(pvalues), 0.0, len(index)
    for rank, i in enumerate(index):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def one_sample(values: list[float], reference: float) -> Test:
    """The mean of values minus a fixed reference (the raw-pixel baseline has no training seeds)."""
    x = [v for v in values if math.isfinite(v)]
    if not x:
        return Test("not estimable")
    est = float(np.mean(x)) - reference
    if len(x) < 2:
        return Test("no test (n = 1)", est, n=len(x))
    return _t_test("one-sample t", est, float(np.std(x, ddof=1)) / math.sqrt(len(x)), len(x) - 1, len(x))
