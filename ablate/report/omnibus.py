"""The omnibus test of a factor with more than two levels, paired by training seed.

Before comparing each level with a reference, the report asks whether the levels differ at all.
The subjects are the training seeds shared by every level (a seed is one replicate of the whole
design), so the test is a within-subject one: the repeated-measures ANOVA with a sphericity
correction (levels need not have equal variances or equal covariances: Greenhouse-Geisser's
epsilon, Huynh-Feldt's where GG's is above 0.75), or, when the residuals of the additive subject +
level model are not normal, Friedman's rank test.

The choice is a documented pre-test: Shapiro-Wilk on those residuals at ALPHA, made only from 8
residual degrees of freedom on (fewer residuals, which are dependent, say nothing about normality:
the ANOVA then). A pre-test adds its own small error (the chosen test's level is conditional on
the pre-test's verdict), which the tests bound by simulation; Friedman is the fallback only when
the residuals are not normal, since it loses power on normal data. What the level is at few seeds
(simulated, normal seeds, 3 levels, nominal 0.05): about 0.006 at n = 2 (the covariance of two
seeds cannot estimate epsilon: the test is nearly useless), 0.02-0.03 at n = 3, 0.04-0.06 from
n = 5. The report calls omnibus only for three or more levels; with two, the ANOVA is exactly the
paired t test (F = t^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from ablate.report.stats import ALPHA

HF_ABOVE = 0.75  # Greenhouse-Geisser's epsilon above which Huynh-Feldt's is used (Girden, 1992)
MIN_RESIDUAL_DF = 8  # residual degrees of freedom, (n - 1)(L - 1), below which normality is not pre-tested


@dataclass
class Omnibus:
    method: str  # 'repeated-measures ANOVA' | 'Friedman' | 'not tested'
    statistic: float = math.nan  # F (ANOVA) or chi-square (Friedman)
    df1: float = math.nan  # ANOVA: (L-1)*epsilon; Friedman: L-1
    df2: float = math.nan  # ANOVA: (L-1)*(n-1)*epsilon; Friedman: NaN
    p: float = math.nan
    n: int = 0  # training seeds shared by every level (the subjects)
    levels: int = 0
    epsilon: float = math.nan  # the sphericity correction applied (ANOVA only)
    why: str = ""  # why this method, in one short phrase
    gg: float = math.nan  # the Greenhouse-Geisser estimate (ANOVA only)
    correction: str = ""  # which epsilon: Greenhouse-Geisser, or Huynh-Feldt where GG's is above 0.75

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p)

    def describe(self) -> str:
        why = f"; {self.why}" if self.why else ""
        if not self.tested:
            return f"not tested ({self.why or 'no test'})"
        seeds = f"n = {self.n} seed{'s' if self.n != 1 else ''}"
        if self.method == "Friedman":
            return f"Friedman, χ²({self.df1:.0f}) = {self.statistic:.2f}, {_p(self.p)}, {seeds}{why}"
        return (
            f"{self.method}, F({self.df1:.3g}, {self.df2:.3g}) = {self.statistic:.2f}, {_p(self.p)}, "
            f"{self.correction} ε = {self.epsilon:.2f}, {seeds}{why}"
        )


def _p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


def _residuals(table: np.ndarray) -> np.ndarray:
    """y - row mean - column mean + grand mean: what the additive subject + level model leaves."""
    return table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True) + table.mean()


def _flat(table: np.ndarray) -> bool:
    # rounding-level residuals: every subject moved by the same amount, nothing to test against
    return float(np.abs(_residuals(table)).max()) <= 1e-12 * max(1.0, float(np.abs(table).max()))


def rm_anova(table: np.ndarray) -> Omnibus:
    """One-way repeated-measures ANOVA of an n subjects x L levels table, Greenhouse-Geisser corrected."""
    y = np.asarray(table, dtype=float)
    n, levels = y.shape
    if n < 2 or levels < 2:
        return Omnibus("not tested", n=n, levels=levels, why="fewer than 2 subjects or levels")
    if _flat(y):
        return Omnibus("not tested", n=n, levels=levels, why="no residual spread")
    grand = y.mean()
    ss_levels = n * float(((y.mean(axis=0) - grand) ** 2).sum())
    # SS_error = SS_total - SS_levels - SS_subjects, summed from the residuals directly: the
    # subtraction loses every digit when seed effects dwarf the residual noise
    ss_error = float((_residuals(y) ** 2).sum())
    f = (ss_levels / (levels - 1)) / (ss_error / ((levels - 1) * (n - 1)))
    # Sphericity (equal variances of every level difference) rarely holds for ablation arms;
    # epsilon shrinks both degrees of freedom by how far the double-centred covariance is from it.
    s = np.cov(y, rowvar=False, ddof=1)
    sc = s - s.mean(axis=0, keepdims=True) - s.mean(axis=1, keepdims=True) + s.mean()
    gg = float(np.trace(sc) ** 2 / ((levels - 1) * (sc**2).sum()))
    gg = min(1.0, max(1.0 / (levels - 1), gg))
    # GG's estimate is biased low when sphericity nearly holds, most at the few seeds of an ablation
    # (its null rejection rate falls to ~1% at n = 3): above 0.75 the Huynh-Feldt estimate, with
    # Lecoutre's correction, is used instead (Girden's rule)
    eps, correction = gg, "Greenhouse-Geisser"
    if gg > HF_ABOVE:
        k = levels - 1
        below = k * (n - 1 - k * gg)
        eps = 1.0 if below <= 0 else min(1.0, max(gg, (n * k * gg - 2) / below))
        correction = "Huynh-Feldt"
    df1, df2 = (levels - 1) * eps, (levels - 1) * (n - 1) * eps
    p = float(stats.f.sf(f, df1, df2))
    return Omnibus("repeated-measures ANOVA", f, df1, df2, p, n, levels, eps, gg=gg, correction=correction)


def friedman(table: np.ndarray) -> Omnibus:
    """Friedman's rank test over the columns (levels); with two levels, the ANOVA (scipy needs 3)."""
    y = np.asarray(table, dtype=float)
    n, levels = y.shape
    if levels == 2:
        return replace(rm_anova(y), why="2 levels: Friedman needs 3, so the ANOVA (= paired t)")
    if n < 2 or levels < 2:
        return Omnibus("not tested", n=n, levels=levels, why="fewer than 2 subjects or levels")
    res = stats.friedmanchisquare(*y.T)
    if not math.isfinite(res.statistic):  # every subject tied across all levels
        return Omnibus("not tested", n=n, levels=levels, why="all ranks tied")
    return Omnibus("Friedman", float(res.statistic), levels - 1, math.nan, float(res.pvalue), n, levels)


def omnibus(samples: list[dict[object, float]]) -> Omnibus:
    """Do the levels differ? One {training seed: value} per level, paired on the seeds they share.

    Whichever test fits the data: the ANOVA when the additive model's residuals pass Shapiro-Wilk
    at ALPHA, Friedman when they do not; `why` gives the Shapiro-Wilk p either way."""
    samples = [{k: v for k, v in s.items() if v is not None and math.isfinite(v)} for s in samples]
    levels = len(samples)
    shared = sorted(set.intersection(*(set(s) for s in samples)), key=str) if samples else []
    n = len(shared)
    if levels < 2:
        return Omnibus("not tested", n=n, levels=levels, why=f"{levels} level{'s' if levels != 1 else ''}")
    if n < 2:
        return Omnibus("not tested", n=n, levels=levels, why=f"n = {n} shared seed{'s' if n != 1 else ''}")
    y = np.array([[s[k] for s in samples] for k in shared], dtype=float)
    if _flat(y):
        return Omnibus("not tested", n=n, levels=levels, why="no spread")
    df = (n - 1) * (levels - 1)
    if df < MIN_RESIDUAL_DF:  # the residuals are too few (and dependent) for a normality test to say anything
        return replace(rm_anova(y), why=f"too few seeds to check normality ((n - 1)(L - 1) = {df} < {MIN_RESIDUAL_DF})")
    sw = float(stats.shapiro(_residuals(y).ravel()).pvalue)
    if sw < ALPHA:
        out = friedman(y)
        return replace(out, why=f"residuals not normal (Shapiro-Wilk p = {sw:.2g})" + _also(out.why))
    out = rm_anova(y)
    return replace(out, why=f"residuals consistent with normal (Shapiro-Wilk p = {sw:.2g})")


def _also(why: str) -> str:
    return f"; {why}" if why else ""
