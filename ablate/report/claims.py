"""Verdicts on a study's declared claims (ablate/config/claims.py), read off the effects table, so
every number a verdict quotes is in a table. This docstring is where the rules are written down.

Which claims a section judges: those whose `where` covers its task and dataset and whose factors
are all factors of the section's grid, with the levels the claim names (a claim that cannot be
tested by this sweep is left out; preflight refuses it before anything runs unless it is
`optional`). Claims are numbered in declaration order among those judged.

Rule per deciding effect: **supported** when its direction matches the claim and the
Holm-corrected test rejects at 0.05; **not supported** when it is reliably opposite (the corrected
test rejects the other way), or its whole 95% CI falls short of the reference size (declared as
`reference`, or computed on a reference table that covers the section); **inconclusive**
otherwise, and always at n < 2 per cell. A claim is supported when all its effects are, not
supported when any is. Holm families: one per metric of a section, over every effect the report
estimates for that metric (ablate/report/effects.py), whatever the claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablate.config.claims import Claim, Deciding, Reference, same_level
from ablate.config.metrics import Registry
from ablate.report.effects import Effect, Grid
from ablate.report.references import Lookup
from ablate.report.stats import ALPHA
from ablate.report.tables import fmt_p, signed


@dataclass
class Judged:
    """One claim's verdict in one section, and the line the summary prints."""

    number: int
    claim: Claim
    verdict: str  # supported | not supported | inconclusive
    n: int  # training seeds: the smallest n among the deciding effects
    line: str

    def as_dict(self) -> dict:
        c = self.claim
        return {
            "claim": self.number,
            "id": c.id,
            "text": c.says,
            "verdict": self.verdict,
            "n": self.n,
            "line": self.line,
        }


def _level(g: Grid, factor: str, declared: object) -> str | None:
    """The grid's level (as logged) that a declared level names."""
    return next((v for v in g.levels.get(factor, []) if same_level(declared, v)), None)


def testable(claim: Claim, g: Grid) -> bool:
    """Every factor of the claim is a factor of the grid with every level the claim names."""
    for effect in claim.effects:
        for factor, named in effect.levels().items():
            if factor not in g.factors or any(_level(g, factor, v) is None for v in named):
                return False
    return True


def _find(effects: list[Effect], g: Grid, d: Deciding) -> tuple[Effect, int] | None:
    """The effect deciding `d`, and +1/-1 for how its (high − low) maps onto the declared (to − from)."""

    def orient(factor: str, high: str, to: object) -> int:
        return 1 if same_level(to, high) else -1

    for e in effects:
        if e.metric != d.metric or e.kind != d.kind:
            continue
        if d.kind == "baseline":
            given = {k: _level(g, k, v) for k, v in d.cell.items()}
            if e.given == given:  # the whole cell: on a larger grid the declared cell names every factor
                return e, 1
            continue
        c = d.change
        if d.kind == "interaction":
            o = d.other
            if {e.factor, e.other} == {c.factor, o.factor}:  # symmetric in its two factors: orient both
                return e, orient(c.factor, g.levels[c.factor][1], c.high) * orient(
                    o.factor, g.levels[o.factor][1], o.high
                )
            continue
        pair = {_level(g, c.factor, c.low), _level(g, c.factor, c.high)}
        given = {k: _level(g, k, v) for k, v in d.within.items()}
        if e.factor == c.factor and {e.low, e.high} == pair and e.given == given:
            return e, orient(c.factor, e.high, c.high)
    return None


def _judge(e: Effect, orient: int, d: Deciding, size: float | None, source: str, reg: Registry) -> tuple[str, str]:
    t = e.test
    est, lo, hi = (orient * t.estimate, *sorted((orient * t.ci_low, orient * t.ci_high)))
    text = f"{e.label} on {reg.get(e.metric).heading} = {signed(reg, t.estimate, e.metric)}"
    if math.isfinite(t.ci_low):
        text += f" [{reg.show(e.metric, t.ci_low)}, {reg.show(e.metric, t.ci_high)}]"
    if t.tested:
        p = fmt_p(t.p_holm)
        text += f", {t.kind}, p (Holm) {p if p.startswith('<') else '= ' + p}"
    if not math.isfinite(t.estimate):
        return "inconclusive", text + " (not estimable: a cell has no finished run)"
    if not t.tested:
        return "inconclusive", text + f" ({t.kind})"
    # in the claim's direction: the claimed effect is positive, the reference size too
    lo, hi = sorted((d.sign * lo, d.sign * hi))
    smaller = size is not None and hi < d.sign * size
    reference = f"the {source}'s {signed(reg, orient * size, e.metric)}" if size is not None else ""
    if t.p_holm < ALPHA and est * d.sign > 0:
        return "supported", text + (f" (smaller than {reference})" if smaller else "")
    if t.p_holm < ALPHA:
        return "not supported", text + " (the opposite direction)"
    if smaller:
        return "not supported", text + f" (the CI excludes {reference})"
    return "inconclusive", text


def _size(d: Deciding, s: Scope) -> tuple[float | None, str]:
    """The reference size in the declared direction, and whose it is: declared, or computed on the
    reference table of the effect's metric that covers the section."""
    if d.reference is not None:
        return d.reference, "reference"
    refs = Lookup.find(s.tables, s.task, s.data, d.metric)
    return (refs.size(d), refs.table.label) if refs else (None, "")


def judge(number: int, claim: Claim, s: Scope) -> Judged:
    effects, g, reg = s.effects, s.grid, s.reg
    found = [(_find(effects, g, d), d) for d in claim.effects]
    found = [(f, d) for f, d in found if f is not None or not d.optional]
    if any(f is None for f, _ in found):
        n, verdict = 0, "inconclusive"
        missing = sorted({reg.label(d.metric) for f, d in found if f is None})
        parts = [f"not measured here (these runs have no {', '.join(missing)})"]
    else:
        judged = [_judge(e, orient, d, *_size(d, s), reg) for (e, orient), d in found]
        names = [v for v, _ in judged]
        verdict = "supported" if all(v == "supported" for v in names) else "inconclusive"
        verdict = "not supported" if "not supported" in names else verdict
        parts = [text for _, text in judged]
        sizes = [e.test.n for (e, _), _ in found if math.isfinite(e.test.estimate)]
        n = min(sizes) if sizes else 0
        if 0 < n < 2:
            verdict = "inconclusive"
            parts.insert(0, f"n = {n}: no training-seed replicates")
    seeds = f"training seed{'' if n == 1 else 's'}"
    line = f"- **Claim {number}** ({claim.says}): **{verdict}** at n = {n} {seeds}. " + "; ".join(parts) + "."
    return Judged(number, claim, verdict, n, line)


@dataclass
class Scope:
    """What the claims of one section are judged on: its task and dataset, grid, effects, the
    study's reference tables and the metric registry."""

    task: str
    data: str
    grid: Grid
    effects: list[Effect]
    tables: list[Reference]  # the study's reference tables (each says what it covers)
    reg: Registry


def verdicts(claims: list[Claim], s: Scope) -> list[Judged]:
    """The verdict of every claim this section can test, numbered in declaration order."""
    mine = [c for c in claims if c.where.covers(s.task, s.data) and testable(c, s.grid)]
    return [judge(i, c, s) for i, c in enumerate(mine, 1)]
