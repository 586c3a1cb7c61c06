"""Effects as the sweep's design allows them (ablate/config/design.py), paired by training seed.

- full grid: ablate/report/effects.py; a factor with more than two levels gets an omnibus test
  first (ablate/report/omnibus.py: repeated-measures ANOVA or Friedman, whichever fits), then each
  level against the declared reference level (the first one the command listed);
- leave_one_out: each component's effect is the reference arm minus the arm without it;
- add_one_in: the arm with the component alone minus the baseline arm;
- one_at_a_time: each other level minus the reference arm (an omnibus first where a component has
  more than two levels);
- fractional: each main effect over the fraction's arms, and the two-factor interactions the
  resolution leaves free of main effects (IV and up); each printed with what it is confounded with.

A design's comparisons of a metric are one Holm family, with the cells' raw-pixel comparisons; an
omnibus test is reported beside its factor's comparisons and changes none of them (a gate would
not keep the family-wise rate beyond three levels), nor is it in the family. Interactions and simple effects exist only
where the design has the cells: a leave-one-out study estimates none.
"""

from __future__ import annotations

from ablate.config.design import Arms, roman
from ablate.report.effects import (
    MAX_LEVELS,
    Effect,
    Grid,
    adjust,
    baseline_effects,
    compare,
    family,
    interaction,
    level_means,
    logged,
)
from ablate.report.omnibus import omnibus
from ablate.report.stats import Test

NOTES = {
    "leave_one_out": "the reference arm minus the arm without it",
    "add_one_in": "the arm with it alone minus the baseline arm",
    "one_at_a_time": "against the reference arm",
}
ALIASES_SHOWN = 3  # a fraction's aliases up to three-factor interactions are named; longer ones counted


def estimate(g: Grid, metrics: list[str], baseline: dict[str, float] | None, arms: Arms | None) -> list[Effect]:
    """Every effect of every metric the design estimates (no design recorded: an older sweep or a
    search, its grid's pairwise comparisons)."""
    out: list[Effect] = []
    for metric in metrics:
        if arms is None or arms.name == "full":
            # more than two levels (up to MAX_LEVELS: beyond, a search over values, not compared)
            many = frozenset(f for f in g.factors if 2 < len(g.levels[f]) <= MAX_LEVELS) if arms else frozenset()
            found = family(g, metric, many)
            for f in many:
                found += against_reference(g, metric, f, reference(g, arms, f), {})
        elif arms.name == "fractional":
            found = fractional(g, metric, arms)
        else:
            found = around(g, metric, arms)
        out += adjust(found + baseline_effects(g, metric, baseline))
    return out


def reference(g: Grid, arms: Arms, factor: str) -> str:
    """A factor's reference level as the runs logged it: the first level the command listed."""
    return logged(g.levels[factor], arms.components[arms.keys.index(factor)].levels[0])


def against_reference(g: Grid, metric: str, factor: str, ref: str, at: dict[str, str]) -> list[Effect]:
    """An omnibus test over the factor's levels (at `at`, else averaged over the other factors),
    then each other level minus the reference."""
    levels = g.levels[factor]
    test = omnibus([level_means(g, metric, factor, level, at) for level in levels])
    summary = Test(test.method, n=test.n, t=test.statistic, df=test.df1, p=test.p)
    found = [Effect(metric, "omnibus", factor, ref, str(len(levels)), test=summary, at=at, detail=test.describe())]
    for level in (v for v in levels if v != ref):
        note = NOTES["one_at_a_time"] if at else ""
        test = compare(g, metric, factor, ref, level, at)
        found.append(Effect(metric, "main", factor, ref, level, test=test, at=at, note=note))
    return found


def around(g: Grid, metric: str, arms: Arms) -> list[Effect]:
    """leave_one_out, add_one_in, one_at_a_time: each component moved away from the design's centre
    arm (the reference; add_one_in: the baseline), the others held there."""
    centre = dict(zip(arms.keys, arms.rows[0], strict=True))
    centre = {k: logged(g.levels[k], v) for k, v in centre.items()}
    found: list[Effect] = []
    for comp in arms.components:
        f = comp.key
        at = {k: v for k, v in centre.items() if k != f}
        first, second = logged(g.levels[f], comp.levels[0]), logged(g.levels[f], comp.levels[-1])
        if arms.name == "one_at_a_time" and len(comp.levels) > 2:
            found += against_reference(g, metric, f, first, at)
            continue
        # leave_one_out: with (the reference) minus without; add_one_in: with alone minus the baseline;
        # one_at_a_time: the other level minus the reference
        low, high = (first, second) if arms.name == "one_at_a_time" else (second, first)
        test = compare(g, metric, f, low, high, at)
        found.append(Effect(metric, "main", f, low, high, test=test, at=at, note=NOTES[arms.name]))
    return found


def words_text(arms: Arms, words: list[str]) -> list[str]:
    """Effect words as factor names (ABD: the first, second and fourth components' keys, joined by ×)."""
    shown = [" × ".join(arms.key_of(letter) for letter in w) for w in words if len(w) <= ALIASES_SHOWN]
    longer = len([w for w in words if len(w) > ALIASES_SHOWN])
    return shown + ([f"{longer} interaction(s) of more than {ALIASES_SHOWN} factors"] if longer else [])


def fractional(g: Grid, metric: str, arms: Arms) -> list[Effect]:
    """Main effects over the fraction's arms; two-factor interactions from resolution IV (one per
    set of interactions confounded together), each labelled with its aliases."""
    found: list[Effect] = []
    for comp in arms.components:
        f = comp.key
        # first level minus second (the +1 level minus the -1), so each estimate is exactly the sum of
        # the textbook effects its alias line names
        high, low = (logged(g.levels[f], level) for level in comp.levels)
        aliases = words_text(arms, arms.aliases(arms.letter(f)))
        found.append(Effect(metric, "main", f, low, high, test=compare(g, metric, f, low, high, {}), aliases=aliases))
    if (arms.resolution or 0) < 4:
        return found  # resolution III: two-factor interactions are confounded with main effects
    for word in _pairs(arms):
        a, b = arms.key_of(word[0]), arms.key_of(word[1])
        aliases = words_text(arms, arms.aliases(word))
        test = interaction(g, metric, a, b)
        found.append(Effect(metric, "interaction", a, *g.levels[a], other=b, test=test, aliases=aliases))
    return found


def describe(arms: Arms | None) -> list[str]:
    """The design in words, for the report: which arms, how effects are read, the alias structure."""
    if arms is None or arms.name == "full":
        return []
    keys = ", ".join(f"{c.key} ({' / '.join(c.levels)})" for c in arms.components)
    k, n = len(arms.components), len(arms.rows)
    if arms.name != "fractional":
        text = {
            "leave_one_out": "the reference arm (every component at its first level), then one arm per component "
            "switched to its second level; each effect is the reference arm minus that arm",
            "add_one_in": "the baseline arm (every component at its second level), then one arm per component "
            "switched to its first level alone; each effect is that arm minus the baseline arm",
            "one_at_a_time": "the reference arm, then each component through its other levels with the rest at "
            "the reference; each effect is that arm minus the reference arm",
        }[arms.name]
        return [
            f"**Design: {arms.name.replace('_', '-')}**, {n} arms over {k} components (first level listed: the "
            f"reference): {keys}. The arms: {text}, paired by training seed. The design has no cells for "
            "interactions: none is estimated, and each effect holds at the other components' levels of its "
            "arms only.",
            "",
        ]
    p = len(arms.generators)
    letters = ", ".join(f"{arms.letter(c.key)} = {c.key}" for c in arms.components)
    relation = " = ".join(["I", *arms.words])
    lines = [
        f"**Design: 2^({k}-{p}) fractional factorial, resolution {roman(arms.resolution)}**: {n} of the full "
        f"grid's {2**k} arms, generators {', '.join(g.replace('=', ' = ') for g in arms.generators)} (defining "
        f"relation {relation}; Box, Hunter & Hunter's table). Components (first level listed = +1): {keys}. "
        f"Letters: {letters}.",
        "",
        "Alias structure (effects confounded with each other; each estimate below is their sum):",
        "",
    ]
    for word in [arms.letter(c.key) for c in arms.components] + _pairs(arms):
        lines.append(f"- {' = '.join([word, *arms.aliases(word)])}")
    lines += [
        "",
        "A main effect is free of two-factor interactions from resolution IV on, and of other main effects "
        "from III; an estimate says nothing about the interactions it is confounded with, which are assumed "
        "small.",
        "",
    ]
    return lines


def _pairs(arms: Arms) -> list[str]:
    """One word per set of confounded two-factor interactions."""
    out, done = [], set()
    for i, a in enumerate(arms.keys):
        for b in arms.keys[i + 1 :]:
            word = arms.letter(a) + arms.letter(b)
            if word not in done:
                done.update(arms.aliases(word))
                out.append(word)
    return out
