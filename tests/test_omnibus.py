"""The omnibus test over a factor's levels, paired by training seed, against scipy and numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from ablate.report.omnibus import friedman, omnibus, rm_anova
from ablate.report.stats import ALPHA


@st.composite
def tables(draw, levels=(2, 5), n=(2, 9)):
    """An n x L table of reasonably scaled values with some residual spread."""
    shape = (draw(st.integers(*n)), draw(st.integers(*levels)))
    cells = st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 3))
    y = np.array(draw(st.lists(cells, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]))).reshape(shape)
    r = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    assume(np.abs(r).max() > 1e-3)  # away from the no-spread guard
    return y


def _helmert(levels: int) -> np.ndarray:
    """Orthonormal contrasts: L x (L-1), columns orthogonal to the ones vector."""
    q, _ = np.linalg.qr(np.column_stack([np.ones(levels), np.eye(levels)[:, : levels - 1]]))
    return q[:, 1:]


@settings(max_examples=200, deadline=None)
@given(y=tables(levels=(2, 2)))
def test_two_levels_is_the_paired_t(y):
    o = rm_anova(y)
    ref = stats.ttest_rel(y[:, 0], y[:, 1])
    assert o.epsilon == 1 and o.df1 == 1 and o.df2 == len(y) - 1
    assert o.statistic == pytest.approx(ref.statistic**2, rel=1e-6)
    assert o.p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(y=tables(), data=st.data())
def test_subject_effects_and_a_common_shift_change_nothing(y, data):
    rows = np.array(data.draw(st.lists(st.floats(-1e3, 1e3), min_size=len(y), max_size=len(y))))
    moved = rm_anova(y + rows[:, None] + data.draw(st.floats(-1e3, 1e3)))
    o = rm_anova(y)
    assert (moved.statistic, moved.p, moved.epsilon) == pytest.approx((o.statistic, o.p, o.epsilon), rel=1e-6)


@settings(max_examples=100, deadline=None)
@given(y=tables())
def test_f_is_the_nested_model_comparison(y):
    """Levels added to a subjects-only linear model: the F of the drop in residual sum of squares."""
    n, levels = y.shape
    subject = np.repeat(np.eye(n), levels, axis=0)  # rows ordered subject-major, as y.ravel()
    level = np.tile(np.eye(levels), (n, 1))[:, 1:]

    def rss(x):
        return float(((y.ravel() - x @ np.linalg.lstsq(x, y.ravel(), rcond=None)[0]) ** 2).sum())

    full, reduced = rss(np.column_stack([subject, level])), rss(subject)
    f = ((reduced - full) / (levels - 1)) / (full / ((levels - 1) * (n - 1)))
    assert rm_anova(y).statistic == pytest.approx(f, rel=1e-6, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(y=tables(levels=(3, 5), n=(3, 9)))
def test_epsilon_is_greenhouse_geisser_or_above_075_huynh_feldt(y):
    """GG: bounded by [1/(L-1), 1], the eigenvalue form over orthonormal contrasts where unclipped;
    above 0.75 the Huynh-Feldt-Lecoutre estimate, never below GG's, at most 1."""
    levels, n = y.shape[1], len(y)
    o = rm_anova(y)
    assert 1 / (levels - 1) - 1e-12 <= o.gg <= 1 + 1e-12
    m = _helmert(levels)
    lam = np.linalg.eigvalsh(m.T @ np.cov(y, rowvar=False) @ m)
    eps = lam.sum() ** 2 / ((levels - 1) * (lam**2).sum())
    assert o.gg == pytest.approx(min(1.0, max(1 / (levels - 1), eps)), rel=1e-6)
    k = levels - 1
    if o.gg <= 0.75:
        assert o.correction == "Greenhouse-Geisser" and o.epsilon == o.gg
    else:
        hf = (n * k * o.gg - 2) / (k * (n - 1 - k * o.gg)) if n - 1 - k * o.gg > 0 else 1.0
        assert o.correction == "Huynh-Feldt" and o.epsilon == pytest.approx(min(1.0, max(o.gg, hf)))
    assert o.df1 == pytest.approx((levels - 1) * o.epsilon) and o.df2 == pytest.approx(o.df1 * (len(y) - 1))


def test_epsilon_is_one_under_sphericity_and_small_without():
    # residual rows that are a tight frame of the sum-zero plane: double-centred covariance ∝ centring
    frame = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], dtype=float)
    y = frame + np.array([[3.0], [-1.0], [7.0]]) + np.array([0.0, 0.5, 2.0])
    assert rm_anova(y).gg == pytest.approx(1.0) and rm_anova(y).epsilon == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (12, 4)) * [0.1, 0.1, 0.1, 10.0]  # one level far noisier than the rest
    o = rm_anova(y)
    assert o.epsilon == o.gg < 0.6 and o.correction == "Greenhouse-Geisser" and o.df1 == pytest.approx(3 * o.epsilon)


def test_friedman_is_scipy():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, (7, 4)) + [0, 0.5, 1, 0]
    o, ref = friedman(y), stats.friedmanchisquare(*y.T)
    assert o.method == "Friedman" and o.df1 == 3 and math.isnan(o.df2) and (o.n, o.levels) == (7, 4)
    assert (o.statistic, o.p) == pytest.approx((ref.statistic, ref.pvalue))
    two = friedman(y[:, :2])  # scipy needs 3 levels: the ANOVA, saying so
    assert two.method == "repeated-measures ANOVA" and "Friedman needs 3" in two.why


def test_the_residuals_choose_the_test():
    rng = np.random.default_rng(2)
    normal = rng.normal(0, 1, (10, 3)) + rng.normal(0, 3, (10, 1))
    o = omnibus([dict(enumerate(c)) for c in normal.T])
    assert o.method == "repeated-measures ANOVA" and "consistent with normal (Shapiro-Wilk p = " in o.why
    assert o.describe().startswith("repeated-measures ANOVA, F(") and f"{o.correction} ε" in o.describe()
    skewed = normal * 0.01
    skewed[0, 0] += 50  # one run far off: residuals with one huge value
    o = omnibus([dict(enumerate(c)) for c in skewed.T])
    assert o.method == "Friedman" and "not normal (Shapiro-Wilk p = " in o.why
    assert (o.statistic, o.p) == pytest.approx(tuple(stats.friedmanchisquare(*skewed.T)))
    assert o.describe().startswith("Friedman, χ²(2) = ") and "n = 10 seeds" in o.describe()


def test_levels_are_paired_on_shared_seeds():
    a = {0: 1.0, 1: 2.0, 2: 3.5, 3: 2.2, 9: 100.0}
    b = {0: 1.5, 1: 2.1, 2: 4.0, 3: 2.0, 8: -50.0, 4: math.nan}
    c = {0: 2.0, 1: 2.9, 2: 4.1, 3: 3.1, 4: 1.0}
    o = omnibus([a, b, c])
    y = np.array([[s[k] for s in (a, b, c)] for k in range(4)])
    assert o.n == 4 and o.levels == 3 and o.tested
    assert o.statistic == pytest.approx(rm_anova(y).statistic if o.method != "Friedman" else friedman(y).statistic)
    lonely = omnibus([{0: 1.0, 1: 2.0}, {1: 3.0, 2: 4.0}, {1: 5.0, 3: 6.0}])
    assert not lonely.tested and lonely.n == 1 and lonely.why == "n = 1 shared seed"
    assert lonely.describe() == "not tested (n = 1 shared seed)"
    assert not omnibus([a]).tested and not omnibus([]).tested
    flat = omnibus([{0: 1.0, 1: 2.0}, {0: 2.0, 1: 3.0}, {0: 4.0, 1: 5.0}])  # every seed moves alike
    assert not flat.tested and flat.why == "no spread"


def _rate(shift: float, reps: int = 2000, n: int = 8, sds=(0.5, 1.0, 2.0)) -> float:
    """How often omnibus rejects at ALPHA: n seeds x 3 levels, a seed effect, level noise of `sds`."""
    rng = np.random.default_rng(0)
    y = rng.normal(0, 2, (reps, n, 1)) + rng.normal(0, 1, (reps, n, 3)) * np.asarray(sds)
    y[:, :, 0] += shift
    return float(np.mean([omnibus([dict(enumerate(c)) for c in t.T]).p < ALPHA for t in y]))


def test_level_under_the_null_and_power_under_a_shift():
    assert 0.03 <= _rate(0.0) <= 0.07
    # at five seeds too, with equal level noise (where Greenhouse-Geisser alone fell to ~0.02)
    assert 0.03 <= _rate(0.0, n=5, sds=(1.0, 1.0, 1.0)) <= 0.07
    assert _rate(2.0) > 0.5  # the quiet level moved by one sd of the noisiest
