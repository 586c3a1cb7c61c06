"""Decisions that keep their error rate: over every deciding effect of every declared claim, and
over the rounds in which `replicates=auto` adds training seeds.

The method, in two parts, both established and both conservative:

1. **The family.** Every deciding effect of every claim a report judges is one family of m
   effects; each gets the share alpha / m of the family-wise rate (Bonferroni: valid whatever the
   dependence between effects, which share cells and seeds here).
2. **The rounds.** A sequential sweep looks at each effect at fixed sample sizes, the looks
   n = min, min + step, ..., max (training seeds shared by the effect's cells). Each effect's
   interval is a *repeated confidence interval* (Jennison and Turnbull, "Interim analyses: the
   repeated confidence interval approach", JRSS B 51, 1989) with Pocock's constant boundary
   (Pocock, "Group sequential methods in the design and analysis of clinical trials", Biometrika
   64, 1977): the same nominal level at every look, chosen so that a true effect falls outside
   its interval at ANY look with probability alpha / m. The boundary is for the t statistics
   ablate computes (the one-sample t of the per-seed contrast, paired over seeds), not their
   normal approximation, which is far too liberal at n = 3: it is calibrated by simulating those
   t statistics at the looks (normal per-seed values, a fixed seed, so the same looks always give
   the same level). A fixed design (`replicates=R`) has one look: the level is alpha / m.

Since every effect's interval covers its true value at every look at once with probability at
least 1 - alpha, every statement read off the intervals keeps the family-wise rate together:
the direction (supported, contradicted), the absence of an effect larger than a declared margin,
and the comparison with a reference size. tests/test_sequential.py shows it on simulated studies
(normal and skewed seeds, nulls at zero, at the margin and at the reference), with naive peeking
(0.05 at every round) as the negative control.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ablate.report.stats import ALPHA, Test

SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE = "supported", "contradicted", "no effect", "inconclusive"
PROVISIONAL = "provisional (not converged)"
DECIDED = (SUPPORTED, CONTRADICTED, NO_EFFECT)  # what a round of seeds no longer needs to settle
LARGER, CONSISTENT, SMALLER = "larger than", "consistent with", "smaller than"

_SIMULATED = 400_000  # null studies that calibrate a boundary (its Monte-Carlo error: tests/test_sequential.py)
_CALIBRATION_SEED = 20261203
_CHUNK = 50_000


@dataclass(frozen=True)
class Design:
    """The sample sizes (training seeds per cell) at which effects are judged."""

    looks: tuple[int, ...]

    @classmethod
    def rounds(cls, minimum: int, maximum: int, step: int) -> Design:
        """`replicates=auto`: min, min + step, ..., and max itself."""
        looks = list(range(minimum, maximum + 1, step))
        return cls(tuple(looks if looks[-1] == maximum else [*looks, maximum]))

    @classmethod
    def fixed(cls) -> Design:
        """One look, whatever its n (a fixed number of replicates)."""
        return cls(())

    @property
    def tested(self) -> tuple[int, ...]:
        """The looks at which a t test exists (n >= 2)."""
        return tuple(n for n in self.looks if n >= 2)

    def describe(self) -> str:
        if len(self.tested) < 2:
            return "one look"
        return f"{len(self.tested)} looks at n = {', '.join(map(str, self.tested))}"


@functools.lru_cache(maxsize=64)
def nominal_level(looks: tuple[int, ...], alpha: float) -> float:
    """Pocock's boundary for t tests at `looks`: the two-sided level at each look such that a true
    null is rejected at some look with probability `alpha`. One look: `alpha` itself."""
    looks = tuple(n for n in looks if n >= 2)
    if len(looks) < 2:
        return alpha
    rng = np.random.default_rng(_CALIBRATION_SEED)
    smallest = []
    for start in range(0, _SIMULATED, _CHUNK):
        x = rng.standard_normal((min(_CHUNK, _SIMULATED - start), looks[-1]))
        s1, s2 = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
        p = np.ones(len(x))
        for n in looks:
            mean = s1[:, n - 1] / n
            var = np.maximum(s2[:, n - 1] - n * mean * mean, 1e-300) / (n - 1)
            t = mean / np.sqrt(var / n)
            p = np.minimum(p, 2 * stats.t.sf(np.abs(t), n - 1))
        smallest.append(p)
    return float(np.quantile(np.concatenate(smallest), alpha))


@functools.lru_cache(maxsize=4096)
def _critical(level: float, df: float) -> float:
    """The two-sided t quantile of a level (cached: a simulation asks for the same ones again)."""
    return float(stats.t.ppf(1 - level / 2, df))


@dataclass(frozen=True)
class Family:
    """The deciding effects judged together: `size` of them, at the design's looks."""

    size: int
    design: Design = Design.fixed()
    alpha: float = ALPHA

    @property
    def level(self) -> float:
        """Each effect's two-sided nominal level at each look."""
        return nominal_level(self.design.looks, self.alpha / max(1, self.size))

    def interval(self, test: Test) -> tuple[float, float]:
        """The effect's repeated confidence interval (NaN when it has no test)."""
        if not (test.tested and math.isfinite(test.se)):
            return math.nan, math.nan
        half = _critical(self.level, test.df) * test.se
        return test.estimate - half, test.estimate + half

    def describe(self) -> str:
        looks = self.design.describe()
        return (
            f"Bonferroni over the {self.size} deciding effect{'s' if self.size != 1 else ''} of the declared claims "
            f"(family-wise {self.alpha:g}); each effect's interval at {looks}"
            + (", Pocock's repeated confidence intervals for t statistics" if len(self.design.tested) > 1 else "")
            + f": nominal level {self.level:.3g} per effect and look"
        )


@dataclass(frozen=True)
class Decision:
    """One deciding effect's answer: its verdict, its interval (metric units, as estimated) and,
    separately, how its size compares with a reference (None: no reference)."""

    verdict: str
    low: float
    high: float
    size: str | None = None


def decide(
    test: Test, family: Family, sign: int, margin: float | None = None, reference: float | None = None
) -> Decision:
    """Read an effect off its interval. `sign`: +1 when the claim expects the estimate to be
    positive, -1 when negative; `margin` (>= 0, metric units): no effect larger than it is a
    decided answer; `reference`: a size in the claim's direction (positive when as claimed)."""
    low, high = family.interval(test)
    if not math.isfinite(low):
        return Decision(INCONCLUSIVE, low, high)
    lo, hi = sorted((sign * low, sign * high))  # the claim's direction is positive
    if lo > 0:
        verdict = SUPPORTED
    elif hi < 0:
        verdict = CONTRADICTED
    elif margin is not None and -margin < lo and hi < margin:
        verdict = NO_EFFECT
    else:
        verdict = INCONCLUSIVE
    size = None
    if reference is not None:
        size = LARGER if lo > reference else SMALLER if hi < reference else CONSISTENT
    return Decision(verdict, low, high, size)


def combine(verdicts: list[str]) -> str:
    """A claim's verdict from its effects': contradicted when any is, no effect when any effect is
    shown absent (the claim needs them all), supported when all are, else inconclusive."""
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if NO_EFFECT in verdicts:
        return NO_EFFECT
    return SUPPORTED if verdicts and all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE
