"""The factor grid of one task and dataset, and the effects estimated on it.

Generic in the factors: any swept key is a factor, its levels are the values seen. The grid's cells
are the arms the sweep's design trained (ablate/config/design.py: every combination for a full
grid), so a design's absent combinations are not "missing". On a full grid, each pair of levels of
a factor is compared averaged over the other factors (the main effect when it has two levels); for
two-level factors also the comparison within each level of every other factor (simple effects) and
every two-way interaction. Each metric is one Holm family. How a design's effects and a factor
with more than two levels are estimated: ablate/report/designs.py. Factors with more than
MAX_LEVELS levels (an optimizer's search) are shown in the tables but not compared.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from ablate.config.claims import same_level
from ablate.config.design import Arms
from ablate.report.collect import REPLICATE, natural
from ablate.report.stats import Test, contrast, holm, one_sample

# a grid much larger than what ran (an optimizer's sweep of continuous values) is not a design
# with gaps: report only the cells that ran
_MAX_EMPTY_FACTOR = 2
# a factor with more levels is a search over values, not a design: no pairwise comparisons of it
MAX_LEVELS = 6


@dataclass
class Cell:
    values: dict[str, str]
    runs: pd.DataFrame
    expected: int  # training seeds a complete cell has

    @cached_property
    def finished(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "FINISHED"]

    @property
    def n(self) -> int:
        return len(self.finished)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "all runs"

    def status(self) -> str:
        """'3/3', or 'failed (0/3)' / 'missing (0/3)' when nothing finished."""
        total = max(self.expected, len(self.runs))
        if self.n:
            return f"{self.n}/{total}"
        return f"{'missing' if self.runs.empty else 'failed'} (0/{total})"

    def values_of(self, metric: str) -> list[float]:
        if metric not in self.finished:
            return []
        return [float(v) for v in pd.to_numeric(self.finished[metric], errors="coerce") if math.isfinite(v)]

    def by_seed(self, metric: str) -> dict[str, float]:
        """{training seed: value}; a seed run twice keeps its first finished run."""
        if metric not in self.finished:
            return {}
        out: dict[str, float] = {}
        values = pd.to_numeric(self.finished[metric], errors="coerce")
        for seed, value in zip(self.finished[REPLICATE], values, strict=True):
            if math.isfinite(value):
                out.setdefault(str(seed), float(value))
        return out


@dataclass
class Grid:
    factors: list[str]
    levels: dict[str, list[str]]
    cells: list[Cell]

    def select(self, given: dict[str, str]) -> list[Cell]:
        return [c for c in self.cells if all(c.values[k] == v for k, v in given.items())]


def match(levels: list[str], declared: object) -> str | None:
    """The level as the runs logged it ('True') of a level as a command or a claim gives it ('true')."""
    return next((v for v in levels if same_level(declared, v)), None)


def logged(levels: list[str], level: str) -> str:
    """match, or the level as given where no run logged it (every run of it failed early)."""
    found = match(levels, level)
    return level if found is None else found


def grid(rows: pd.DataFrame, factors: list[str], arms: Arms | None = None) -> Grid:
    """The cells: the design's arms (a full grid: every combination of the levels seen)."""
    levels = {f: sorted(rows[f].astype(str).unique(), key=natural) for f in factors}
    expected = max(1, rows[REPLICATE].nunique()) if len(rows) else 1
    seen = {tuple(str(v) for v in key) for key in rows[factors].itertuples(index=False)} if factors else {()}
    full = list(itertools.product(*(levels[f] for f in factors)))
    if arms is not None and arms.name != "full" and set(arms.keys) == set(factors):
        at = [arms.keys.index(f) for f in factors]
        full = [tuple(logged(levels[f], row[i]) for f, i in zip(factors, at, strict=True)) for row in arms.rows]
        for f in factors:  # a level no run logged (every run of it failed early) still names its cells
            levels[f] = sorted({*levels[f], *(combo[factors.index(f)] for combo in full)}, key=natural)
    elif len(full) > max(16, _MAX_EMPTY_FACTOR * len(seen)):
        full = sorted(seen, key=lambda combo: [natural(v) for v in combo])
    cells = []
    for combo in full:
        mask = pd.Series(True, index=rows.index)
        for f, v in zip(factors, combo, strict=True):
            mask &= rows[f].astype(str) == v
        cells.append(Cell(dict(zip(factors, combo, strict=True)), rows[mask], expected))
    return Grid(factors, levels, cells)


@dataclass
class Effect:
    metric: str
    kind: str  # 'main' | 'simple' | 'interaction' | 'baseline' (a cell against the raw-pixel score) | 'omnibus'
    factor: str
    low: str
    high: str
    other: str = ""  # the second factor of an interaction
    given: dict[str, str] = field(default_factory=dict)
    test: Test = field(default_factory=lambda: Test("not estimable"))
    at: dict[str, str] = field(default_factory=dict)  # a design's main effect: the other factors' levels it is read at
    note: str = ""  # how a design reads it, after the label ("the reference arm minus ...")
    aliases: list[str] = field(default_factory=list)  # a fraction's: the effects confounded with this one
    detail: str = ""  # an omnibus test, in words (method, statistic, df, p)

    @property
    def label(self) -> str:
        if self.kind == "interaction":
            text = f"{self.factor} × {self.other}"
        elif self.kind == "baseline":
            text = f"{self.high} − {self.low}"
        elif self.kind == "omnibus":
            text = f"{self.factor}: any difference among its {self.high} levels"
        else:
            where = ", ".join(f"{k}={v}" for k, v in self.given.items())
            text = f"{self.factor}: {self.high} − {self.low}" + (f" at {where}" if where else "")
        text += f" ({self.note})" if self.note else ""
        return text + (f" = {' = '.join(self.aliases)}" if self.aliases else "")


def cells_of(e: Effect, g: Grid) -> list[Cell]:
    """The cells an effect's contrast reads (their shared seeds pair it)."""
    if e.kind == "baseline":
        return g.select(e.given)
    if e.kind == "interaction":
        return [c for c in g.cells if c.values[e.factor] in (e.low, e.high) and c.values[e.other] in g.levels[e.other]]
    if e.kind == "omnibus":
        return g.select(e.at)
    pair = [c for c in g.cells if c.values[e.factor] in (e.low, e.high)]
    return [c for c in pair if all(c.values[k] == v for k, v in {**e.at, **e.given}.items())]


def level_means(g: Grid, metric: str, factor: str, level: str, at: dict[str, str]) -> dict[str, float]:
    """{seed: the mean over the level's cells (at `at`)}, for the seeds every one of them has."""
    samples = [c.by_seed(metric) for c in g.select({**at, factor: level})]
    if not samples:
        return {}
    shared = set.intersection(*(set(s) for s in samples))
    return {k: sum(s[k] for s in samples) / len(samples) for k in shared}


def compare(g: Grid, metric: str, factor: str, low: str, high: str, given: dict[str, str]) -> Test:
    """high − low averaged over the cells of the other factors (equal weights per cell)."""
    lows = [c for c in g.select({**given, factor: low})]
    highs = [c for c in g.select({**given, factor: high})]
    if len(lows) != len(highs) or not lows:
        return Test("not estimable")
    cells = highs + lows
    weights = [1 / len(highs)] * len(highs) + [-1 / len(lows)] * len(lows)
    return contrast(weights, [c.by_seed(metric) for c in cells])


def interaction(g: Grid, metric: str, a: str, b: str) -> Test:
    """(effect of a at b's high level) − (effect of a at b's low level), averaged over the rest."""
    (a0, a1), (b0, b1) = g.levels[a], g.levels[b]
    weights, samples = [], []
    for va, vb, sign in ((a1, b1, 1), (a0, b1, -1), (a1, b0, -1), (a0, b0, 1)):
        part = g.select({a: va, b: vb})
        weights += [sign / len(part)] * len(part) if part else [sign]
        samples += [c.by_seed(metric) for c in part] if part else [{}]
    return contrast(weights, samples)


def family(g: Grid, metric: str, apart: frozenset[str] = frozenset()) -> list[Effect]:
    """A full grid's effects of one metric: main effects (each pair of levels) of the factors not
    `apart` (compared with a reference level instead: ablate/report/designs.py), interactions and
    simple effects of the two-level factors."""
    two = [f for f in g.factors if len(g.levels[f]) == 2]
    family: list[Effect] = []
    for f in (f for f in g.factors if len(g.levels[f]) <= MAX_LEVELS and f not in apart):
        for low, high in itertools.combinations(g.levels[f], 2):
            family.append(Effect(metric, "main", f, low, high, test=compare(g, metric, f, low, high, {})))
    for a, b in itertools.combinations(two, 2):
        family.append(Effect(metric, "interaction", a, *g.levels[a], other=b, test=interaction(g, metric, a, b)))
    for f in two:
        low, high = g.levels[f]
        for other in (o for o in g.factors if o != f and len(g.levels[o]) <= MAX_LEVELS):
            for level in g.levels[other]:
                test = compare(g, metric, f, low, high, {other: level})
                family.append(Effect(metric, "simple", f, low, high, given={other: level}, test=test))
    return family


def baseline_effects(g: Grid, metric: str, baseline: dict[str, float] | None) -> list[Effect]:
    """Each cell against the raw-pixel score of a metric that has one (purity): a one-sample t, as
    the baseline has no training seeds."""
    out = []
    for cell in g.cells if baseline and metric in baseline else []:
        test = one_sample(cell.values_of(metric), baseline[metric])
        out.append(Effect(metric, "baseline", "", "raw pixels", cell.label, given=cell.values, test=test))
    return out


def adjust(family: list[Effect]) -> list[Effect]:
    """Holm over a metric's comparisons (an omnibus test is reported beside them, not one of them)."""
    tested = [e for e in family if e.kind != "omnibus"]
    for e, p in zip(tested, holm([e.test.p for e in tested]), strict=True):
        e.test.p_holm = p
    return family
