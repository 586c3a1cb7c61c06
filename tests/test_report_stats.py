"""The report's statistics against scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ablate.report.stats import contrast, holm, one_sample, summarize

A = [0.51, 0.52, 0.50, 0.53]
B = [0.70, 0.69, 0.72, 0.71]


def test_summary_is_mean_std_ddof1_and_t_interval():
    s = summarize(A + [float("nan"), None])
    lo, hi = stats.t.interval(0.95, len(A) - 1, loc=np.mean(A), scale=stats.sem(A))
    assert s["n"] == 4 and s["mean"] == pytest.approx(np.mean(A)) and s["std"] == pytest.approx(np.std(A, ddof=1))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi))
    one = summarize([0.5])
    assert one["n"] == 1 and one["mean"] == 0.5 and math.isnan(one["std"]) and math.isnan(one["ci_low"])
    assert summarize([])["n"] == 0


def test_two_cells_with_shared_seeds_is_scipy_paired_t():
    t = contrast([1, -1], [dict(enumerate(B)), dict(enumerate(A))])
    ref = stats.ttest_rel(B, A)
    lo, hi = ref.confidence_interval()
    assert t.kind == "paired t" and t.n == 4 and t.df == 3
    assert (t.estimate, t.t, t.p, t.ci_low, t.ci_high) == pytest.approx(
        (np.mean(B) - np.mean(A), ref.statistic, ref.pvalue, lo, hi)
    )


def test_unpaired_cells_are_scipy_welch():
    b = {10 + i: v for i, v in enumerate(B[:3])}  # different seeds: nothing to pair
    t = contrast([1, -1], [b, dict(enumerate(A))])
    ref = stats.ttest_ind(B[:3], A, equal_var=False)
    lo, hi = ref.confidence_interval()
    assert t.kind == "Welch t" and t.n == 3
    assert (t.t, t.p, t.df, t.ci_low, t.ci_high) == pytest.approx((ref.statistic, ref.pvalue, ref.df, lo, hi))


def test_four_cell_contrast_paired_is_one_sample_t_on_per_seed_contrasts():
    cells = [np.array(A), np.array(B), np.array(A) + [0.01, 0.0, 0.02, 0.01], np.array(B) - [0.3, 0.33, 0.31, 0.3]]
    weights = [1, -1, -1, 1]  # an interaction
    t = contrast(weights, [dict(enumerate(c)) for c in cells])
    per_seed = sum(w * c for w, c in zip(weights, cells, strict=True))
    ref = stats.ttest_1samp(per_seed, 0.0)
    assert t.kind == "paired t" and (t.estimate, t.t, t.p) == pytest.approx(
        (per_seed.mean(), ref.statistic, ref.pvalue)
    )


def test_missing_and_single_cells():
    assert contrast([1, -1], [{}, {0: 1.0, 1: 2.0}]).kind == "not estimable"
    t = contrast([1, -1], [{0: 2.0}, {0: 1.0}])
    assert t.kind == "no test (n = 1)" and t.estimate == 1.0 and not t.tested
    assert not contrast([1, -1], [{0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0}]).tested  # no spread: no test


def test_holm_adjustment():
    p = [0.01, 0.04, 0.03, float("nan"), 0.005]
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 over m = 4 -> 0.02, 0.03, 0.06, 0.06 (monotone)
    got = holm(p)
    assert got[4] == pytest.approx(0.02) and got[0] == pytest.approx(0.03)
    assert got[2] == pytest.approx(0.06) and got[1] == pytest.approx(0.06) and math.isnan(got[3])
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_one_sample_against_a_baseline():
    t = one_sample(B, 0.59)
    ref = stats.ttest_1samp(B, 0.59)
    assert (t.estimate, t.t, t.p) == pytest.approx((np.mean(B) - 0.59, ref.statistic, ref.pvalue))
