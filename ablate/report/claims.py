"""The article's three claims as verdicts on the effects table (the article: the 2019 blog article
"U-Net as an autoencoder (from self-reconstruction to colorizing grayscale images)").

With article.py the only code that knows the names skip and bottleneck. Each verdict reads
effects already in the report's effects table, so every number it quotes is in a table.

Rule per deciding effect: supported when its direction matches the claim and the Holm-corrected
test rejects at 0.05; not supported when it is reliably opposite (the corrected test rejects the
other way), or its whole 95% CI falls short of the article's own effect size (MNIST autoencoding,
where the article has one); inconclusive otherwise, and always at n < 2 per cell.
A claim is supported when all its effects are, not supported when any is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablate.report import article
from ablate.report.collect import EARLY
from ablate.report.effects import Effect, Grid
from ablate.report.stats import ALPHA
from ablate.report.tables import NAMES, fmt, fmt_p, signed

SKIP, BOTTLENECK = "model.skip", "model.bottleneck"
PURITY, LOSS = "purity_mean", "final_eval_loss"


@dataclass
class Need:
    """One deciding effect: which, the claimed sign, and the article's size where it has one."""

    metric: str
    kind: str  # an Effect kind: 'main' | 'simple' | 'interaction' | 'baseline'
    factor: str
    given: dict[str, bool]
    sign: int
    size: float | None = None
    optional: bool = False  # decides when the report has it (a raw-pixel baseline was logged)


def _article_sizes() -> dict[str, float]:
    p = {k: v[0] for k, v in article.PURITY.items()}
    return {
        "bottleneck|no skip": p[(False, True)] - p[(False, False)],
        "plain bottleneck|raw": p[(False, True)] - article.RAW_PIXELS[0],
        "skip|bottleneck": p[(True, True)] - p[(False, True)],
        "interaction": (p[(True, True)] - p[(False, True)]) - (p[(True, False)] - p[(False, False)]),
    }


CLAIMS = {
    1: "skips make training much faster and outputs much sharper",
    2: "a plain AE's dense bottleneck is what makes its latent features cluster well",
    3: "skips + bottleneck together destroy the latent's usefulness",
}


def _needs(claim: int, with_sizes: bool) -> list[Need]:
    s = _article_sizes() if with_sizes else {}
    if claim == 1:  # lower loss after the first epoch (faster) and at the end (sharper)
        return [Need(EARLY, "main", SKIP, {}, -1), Need(LOSS, "main", SKIP, {}, -1)]
    if claim == 2:  # the plain AE with a bottleneck clusters better than without, and than raw pixels
        return [
            Need(PURITY, "simple", BOTTLENECK, {SKIP: False}, +1, s.get("bottleneck|no skip")),
            Need(PURITY, "baseline", "", {SKIP: False, BOTTLENECK: True}, +1, s.get("plain bottleneck|raw"), True),
        ]
    return [
        Need(PURITY, "simple", SKIP, {BOTTLENECK: True}, -1, s.get("skip|bottleneck")),
        Need(PURITY, "interaction", SKIP, {}, -1, s.get("interaction")),
    ]


def _bool_levels(g: Grid, factor: str) -> dict[bool, str] | None:
    levels = g.levels.get(factor, [])
    found = {str(v).strip().lower(): v for v in levels}
    if len(levels) != 2 or set(found) != {"true", "false"}:
        return None
    return {True: found["true"], False: found["false"]}


def _find(effects: list[Effect], g: Grid, need: Need) -> tuple[Effect, int] | None:
    """The effect and +1/-1 for how its (high − low) maps onto (True − False)."""
    lv = {f: _bool_levels(g, f) for f in (SKIP, BOTTLENECK)}

    def orient(factor: str, high: str) -> int:
        return 1 if high == lv[factor][True] else -1

    given = {k: lv[k][v] for k, v in need.given.items()}
    for e in effects:
        if e.metric != need.metric or e.kind != need.kind:
            continue
        if e.kind == "interaction" and {e.factor, e.other} == {SKIP, BOTTLENECK}:
            # the interaction contrast is symmetric in its two factors: orient both
            return e, orient(e.factor, g.levels[e.factor][1]) * orient(e.other, g.levels[e.other][1])
        if e.kind == "baseline" and e.given == given:
            return e, 1
        if e.factor == need.factor and e.given == given:
            return e, orient(e.factor, e.high)
    return None


def _judge(e: Effect, orient: int, need: Need) -> tuple[str, str]:
    t = e.test
    est, lo, hi = (orient * t.estimate, *sorted((orient * t.ci_low, orient * t.ci_high)))
    text = f"{e.label} on {NAMES.get(e.metric, e.metric)} = {signed(t.estimate, e.metric)}"
    if math.isfinite(t.ci_low):
        text += f" [{fmt(t.ci_low, e.metric)}, {fmt(t.ci_high, e.metric)}]"
    if t.tested:
        p = fmt_p(t.p_holm)
        text += f", {t.kind}, p (Holm) {p if p.startswith('<') else '= ' + p}"
    if not math.isfinite(t.estimate):
        return "inconclusive", text + " (not estimable: a cell has no finished run)"
    if not t.tested:
        return "inconclusive", text + f" ({t.kind})"
    # in the claim's direction: the claimed effect is positive, the article's size too
    lo, hi = sorted((need.sign * lo, need.sign * hi))
    smaller = need.size is not None and hi < need.sign * need.size
    article_size = f"the article's {signed(orient * need.size, e.metric)}" if need.size is not None else ""
    if t.p_holm < ALPHA and est * need.sign > 0:
        return "supported", text + (f" (smaller than {article_size})" if smaller else "")
    if t.p_holm < ALPHA:
        return "not supported", text + " (the opposite direction)"
    if smaller:
        return "not supported", text + f" (the CI excludes {article_size})"
    return "inconclusive", text


def verdicts(effects: list[Effect], g: Grid, task: str, data: str) -> list[dict]:
    """One dict per claim: number, claim, verdict, the deciding numbers as one markdown line."""
    if any(_bool_levels(g, f) is None for f in (SKIP, BOTTLENECK)):
        return []
    with_sizes = bool(article.reference({SKIP: True, BOTTLENECK: True}, task, data))
    out = []
    for number, claim in CLAIMS.items():
        found = [(_find(effects, g, need), need) for need in _needs(number, with_sizes)]
        found = [(f, need) for f, need in found if f is not None or not need.optional]
        if any(f is None for f, _ in found):
            n, verdict = 0, "inconclusive"
            parts = ["not measured here (no purity: unlabelled data or latent evaluation off)"]
        else:
            judged = [_judge(e, orient, need) for (e, orient), need in found]
            names = [v for v, _ in judged]
            verdict = (
                "supported"
                if all(v == "supported" for v in names)
                else "not supported"
                if "not supported" in names
                else "inconclusive"
            )
            parts = [text for _, text in judged]
            sizes = [e.test.n for (e, _), _ in found if math.isfinite(e.test.estimate)]
            n = min(sizes) if sizes else 0
            if 0 < n < 2:
                verdict = "inconclusive"
                parts.insert(0, f"n = {n}: no training-seed replicates")
        line = (
            f"- **Claim {number}** ({claim}): **{verdict}** at n = {n} training seed{'' if n == 1 else 's'}. "
            + "; ".join(parts)
            + "."
        )
        out.append({"claim": number, "text": claim, "verdict": verdict, "n": n, "line": line})
    return out
