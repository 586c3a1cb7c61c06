"""Verdicts on a study's declared claims (ablate/config/claims.py), read off the effects table, so
every number a verdict quotes is in a table. This docstring is where the rules are written down.

Which claims a section judges: those whose `where` covers its task and dataset and whose factors
are all factors of the section's grid, with the levels the claim names (a claim that cannot be
tested by this sweep is left out; preflight refuses it before anything runs unless it is
`optional`). Claims are numbered in declaration order among those judged.

Each deciding effect gets an interval that holds for the whole family of deciding effects and for
every round of seeds (ablate/report/sequential.py: Bonferroni over the family, Pocock's repeated
confidence intervals over the looks), and the claim's sentence is answered from it:
- **supported**: the interval lies on the claimed side of 0;
- **contradicted**: it lies on the other side (a significant effect opposite to the claim);
- **no effect**: it lies within the effect's declared `margin` either way;
- **inconclusive** otherwise, and always at n < 2 per cell.
A claim is contradicted when any effect is, "no effect" when any effect is shown absent, supported
when all are, else inconclusive. The size is a second, separate answer: the interval is larger
than, consistent with, or smaller than the reference size (declared as `reference`, or computed on
a reference table that covers the section); it never decides the direction.

**No verdict from models that have not learned**: when an arm a claim's effects read has not
converged (ablate/engine/convergence.py, the rule at each run's last epoch), the claim is
*provisional (not converged)*, with its effects and intervals, whatever they say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ablate.config.claims import Claim, Deciding, Reference, same_level
from ablate.config.design import Arms, why_not
from ablate.config.metrics import Registry
from ablate.report.effects import Effect, Grid, cells_of, match
from ablate.report.references import Lookup
from ablate.report.sequential import DECIDED, INCONCLUSIVE, NO_EFFECT, PROVISIONAL, Decision, Family, combine, decide
from ablate.report.tables import fmt_p, signed


@dataclass
class Judged:
    """One claim's verdict in one section, and the lines the summary prints."""

    number: int
    claim: Claim
    verdict: str  # supported | contradicted | no effect | inconclusive | provisional (not converged)
    decided: str  # the verdict the intervals give, convergence aside (what a round of seeds settles)
    n: int  # training seeds: the smallest n among the deciding effects
    line: str
    sizes: list[str]  # the comparisons with reference sizes, one line each
    needs: list[tuple[list[dict[str, str]], int]]  # undecided effects: (the cells they read, their n)

    def as_dict(self) -> dict:
        c = self.claim
        return {
            "claim": self.number,
            "id": c.id,
            "text": c.says,
            "verdict": self.verdict,
            "decided": self.decided,
            "n": self.n,
            "line": self.line,
            "sizes": self.sizes,
            "needs": self.needs,
        }


def _level(g: Grid, factor: str, declared: object) -> str | None:
    """The grid's level (as logged) that a declared level names."""
    return match(g.levels.get(factor, []), declared)


def testable(claim: Claim, g: Grid, arms: Arms | None = None) -> bool:
    """Every factor of the claim is a factor of the grid with every level the claim names, and the
    sweep's design estimates each of its effects."""
    for effect in claim.effects:
        if arms is not None and why_not(arms, effect) and not effect.optional:
            return False
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


def _text(e: Effect, reg: Registry, d: Decision, family: Family) -> str:
    t = e.test
    text = f"{e.label} on {reg.get(e.metric).heading} = {signed(reg, t.estimate, e.metric)}"
    if math.isfinite(d.low):
        text += f" [{reg.show(e.metric, d.low)}, {reg.show(e.metric, d.high)}]"
    if t.tested:
        p = fmt_p(t.p)
        text += f", {t.kind}, p {p if p.startswith('<') else '= ' + p} (threshold {family.level:.2g})"
    elif math.isfinite(t.estimate):
        text += f" ({t.kind})"
    else:
        text += " (not estimable: a cell has no finished run)"
    return text


def _size(d: Deciding, s: Scope) -> tuple[float | None, str]:
    """The reference size in the declared direction, and whose it is: declared, or computed on the
    reference table of the effect's metric that covers the section."""
    if d.reference is not None:
        return d.reference, "reference"
    refs = Lookup.find(s.tables, s.task, s.data, d.metric)
    return (refs.size(d), refs.table.label) if refs else (None, "")


def _found(claim: Claim, s: Scope) -> list[tuple[tuple[Effect, int] | None, Deciding]]:
    """Each deciding effect with the report's effect that estimates it (None: not measured here);
    an optional effect the report lacks is left out."""
    found = [(_find(s.effects, s.grid, d), d) for d in claim.effects]
    return [(f, d) for f, d in found if f is not None or not d.optional]


def family_size(claims: list[Claim], s: Scope) -> int:
    """How many deciding effects this section's claims bring to the family."""
    return sum(len(_found(c, s)) for c in judged_here(claims, s))


def judge(number: int, claim: Claim, s: Scope) -> Judged:
    g, reg, family = s.grid, s.reg, s.family
    found = _found(claim, s)
    seeds = lambda n: f"training seed{'' if n == 1 else 's'}"  # noqa: E731
    if any(f is None for f, _ in found):
        missing = sorted({reg.label(d.metric) for f, d in found if f is None})
        line = (
            f"- **Claim {number}** ({claim.says}): **{INCONCLUSIVE}** at n = 0 {seeds(0)}. not measured here (these "
            f"runs have no {', '.join(missing)})."
        )
        return Judged(number, claim, INCONCLUSIVE, INCONCLUSIVE, 0, line, [], [])
    parts, sizes, names, needs, cold = [], [], [], [], set()
    for (e, orient), d in found:
        size, source = _size(d, s)
        reference = None if size is None else d.sign * size
        decision = decide(e.test, family, d.sign * orient, d.margin, reference)
        names.append(decision.verdict)
        text = _text(e, reg, decision, family)
        if decision.verdict == NO_EFFECT:
            text += f" (within ±{reg.show(e.metric, d.margin)})"
        parts.append(text)
        cells = cells_of(e, g)
        cold |= {c.label for c in cells if not s.converged.get(c.label, False)}
        if decision.verdict not in DECIDED:
            needs.append(([dict(c.values) for c in cells], e.test.n))
        if decision.size is not None:
            sizes.append(
                f"{e.label} on {reg.label(e.metric)}: {decision.size} the {source}'s "
                f"{signed(reg, orient * size, e.metric)}"
            )
    counted = [e.test.n for (e, _), _ in found if math.isfinite(e.test.estimate)]
    n = min(counted) if counted else 0
    decided = combine(names)
    if 0 < n < 2:
        decided = INCONCLUSIVE
        parts.insert(0, f"n = {n}: no training-seed replicates")
    verdict = PROVISIONAL if cold and n >= 2 else decided  # n < 2: no test either way
    if cold:
        arms = len({c.label for (e, _), _ in found for c in cells_of(e, g)})
        parts.append(f"not converged: {len(cold)} of the {arms} arms it reads")
    line = f"- **Claim {number}** ({claim.says}): **{verdict}** at n = {n} {seeds(n)}. " + "; ".join(parts) + "."
    return Judged(number, claim, verdict, decided, n, line, sizes, needs)


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
    converged: dict[str, bool] = field(default_factory=dict)  # cell label -> its arm converged
    family: Family = field(default_factory=lambda: Family(1))  # the deciding effects judged together
    arms: Arms | None = None  # the sweep's design: which effects it estimates (ablate/config/design.py)


def judged_here(claims: list[Claim], s: Scope) -> list[Claim]:
    """The claims this section can test, in declaration order."""
    return [c for c in claims if c.where.covers(s.task, s.data) and testable(c, s.grid, s.arms)]


def verdicts(claims: list[Claim], s: Scope) -> list[Judged]:
    """The verdict of every claim this section can test, numbered in declaration order."""
    return [judge(i, c, s) for i, c in enumerate(judged_here(claims, s), 1)]
