"""Simulated sequential studies, decided by ablate's own decision code without any training.

The study is the article's 2 x 2 grid (skip x bottleneck) with the six deciding effects of its
three claims, each computed exactly as the report computes it (ablate.report.stats: paired t on
the seeds the cells share, one-sample t against the raw-pixel score), judged by
ablate.report.sequential (the family's repeated intervals, the verdicts, the size comparison) and
topped up by ablate.sweep.rounds.targets (the cells of the undecided claims, to the next look).
Per-seed values are drawn from known distributions, so every false statement is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ablate.report.sequential import (
    CONTRADICTED,
    DECIDED,
    LARGER,
    NO_EFFECT,
    SMALLER,
    SUPPORTED,
    Decision,
    Design,
    Family,
    combine,
    decide,
)
from ablate.report.stats import Test, contrast, one_sample
from ablate.sweep.rounds import targets

CELLS = ("ff", "ft", "tf", "tt")  # skip, bottleneck: False/True


def _lognormal(sigma: float):
    mean, sd = np.exp(sigma * sigma / 2), np.sqrt((np.exp(sigma * sigma) - 1) * np.exp(sigma * sigma))
    return lambda rng, shape: (rng.lognormal(0, sigma, shape) - mean) / sd


# per-seed noise, centred with unit SD; the skewness in brackets. The paired contrasts are
# differences of seeds drawn alike, symmetric whatever the skew; the one-sample comparison with
# the raw-pixel score is not, and its t interval holds its rate up to moderate skew only
NOISE = {
    "normal": lambda rng, shape: rng.standard_normal(shape),
    "gamma": lambda rng, shape: (rng.gamma(4, 1, shape) - 4) / 2,  # shape 4 (skewness 1)
    "lognormal": _lognormal(0.5),  # (1.75)
    "exponential": lambda rng, shape: rng.exponential(1, shape) - 1,  # (2)
    "lognormal_heavy": _lognormal(1.0),  # (6.2)
}


@dataclass(frozen=True)
class Effect:
    """A deciding effect: its metric, cell weights (or the baseline cell), expected sign, margin."""

    metric: int
    weights: dict[str, float]
    sign: int
    margin: float | None = None
    baseline: bool = False


# the article's claims: 1 = skips faster and sharper (two loss metrics), 2 = the bottleneck clusters
# (without skips; and against raw pixels), 3 = skips with a bottleneck destroy the latent
CLAIMS = (
    (
        Effect(0, {"tf": 0.5, "tt": 0.5, "ff": -0.5, "ft": -0.5}, -1),
        Effect(1, {"tf": 0.5, "tt": 0.5, "ff": -0.5, "ft": -0.5}, -1),
    ),
    (Effect(2, {"ft": 1, "ff": -1}, 1, 0.5), Effect(2, {"ft": 1}, 1, 0.5, baseline=True)),
    (Effect(2, {"tt": 1, "ft": -1}, -1, 0.5), Effect(2, {"tt": 1, "tf": -1, "ft": -1, "ff": 1}, -1, 0.5)),
)
EFFECTS = tuple(e for claim in CLAIMS for e in claim)


@dataclass
class Scenario:
    """Cell means per metric (3 metrics), the seed distribution, the raw-pixel score, references."""

    means: dict[str, tuple[float, float, float]] = field(default_factory=lambda: {c: (0.0, 0.0, 0.0) for c in CELLS})
    noise: str = "normal"  # a key of NOISE: centred, unit SD per seed
    raw: float = 0.0  # the raw-pixel score (metric 2)
    references: tuple[float | None, ...] = (None,) * len(EFFECTS)  # in each claim's direction
    baseline: bool = True  # count the one-sample baseline effect's errors (see NOISE)

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {cell: NOISE[self.noise](rng, (n, 3)) + np.array(self.means[cell]) for cell in CELLS}

    def truth(self, e: Effect) -> float:
        """The effect's true value in the claim's direction."""
        if e.baseline:
            return e.sign * (self.means["ft"][2] - self.raw)
        return e.sign * sum(w * self.means[c][e.metric] for c, w in e.weights.items())


def _test(e: Effect, values: dict[str, np.ndarray], have: dict[str, int], raw: float) -> Test:
    if e.baseline:
        return one_sample(list(values["ft"][: have["ft"], e.metric]), raw)
    cells = list(e.weights)
    samples = [{s: float(v) for s, v in enumerate(values[c][: have[c], e.metric])} for c in cells]
    return contrast([e.weights[c] for c in cells], samples)


def _wrong(e: Effect, d: Decision, truth: float, reference: float | None) -> bool:
    """Is any statement this decision makes false?"""
    if (d.verdict == SUPPORTED and truth <= 0) or (d.verdict == CONTRADICTED and truth >= 0):
        return True
    if d.verdict == NO_EFFECT and abs(truth) >= e.margin:
        return True
    return reference is not None and (
        (d.size == LARGER and truth <= reference) or (d.size == SMALLER and truth >= reference)
    )


@dataclass
class Outcome:
    wrong: bool  # any false statement, at any round
    supported: list[bool]  # each effect supported at the end
    seeds: int  # seeds trained, summed over cells


def study(s: Scenario, design: Design, rng: np.random.Generator, naive: bool = False) -> Outcome:
    """One sequential study: rounds until every claim is decided or the last look. `naive`: each
    effect tested at 0.05 alone at every round (no family, no boundary): the negative control."""
    values = s.draw(rng, design.looks[-1])
    have = {c: design.looks[0] for c in CELLS}
    family = Family(1, Design.fixed()) if naive else Family(len(EFFECTS), design)
    wrong = False
    while True:
        decisions, needs = [], []
        for claim in CLAIMS:
            judged = []
            for e in claim:
                i = EFFECTS.index(e)
                test = _test(e, values, have, s.raw)
                d = decide(test, family, e.sign, e.margin, s.references[i])
                wrong |= (s.baseline or not e.baseline) and _wrong(e, d, s.truth(e), s.references[i])
                judged.append((e, d, test.n))
            decisions += [d for _, d, _ in judged]
            if combine([d.verdict for _, d, _ in judged]) not in DECIDED:
                cells = lambda e: ["ft"] if e.baseline else list(e.weights)  # noqa: E731
                needs += [([(c,) for c in cells(e)], n) for e, d, n in judged if d.verdict not in DECIDED]
        more = {c[0]: n for c, n in targets(needs, design).items() if n > have[c[0]]}
        if not more:
            return Outcome(wrong, [d.verdict == SUPPORTED for d in decisions], sum(have.values()))
        have.update(more)


def error_rate(s: Scenario, design: Design, studies: int, seed: int, naive: bool = False) -> float:
    rng = np.random.default_rng(seed)
    return sum(study(s, design, rng, naive).wrong for _ in range(studies)) / studies
