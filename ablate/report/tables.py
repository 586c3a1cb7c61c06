"""Markdown tables of one task and dataset: clustering, output quality, cost, effects. What each
metric is called and how it prints comes from the metric registry (ablate/config/metrics.py)."""

from __future__ import annotations

import math

from ablate.config.metrics import CLUSTERING, Registry
from ablate.report.effects import Cell, Effect, Grid
from ablate.report.markdown import table
from ablate.report.references import Lookup
from ablate.report.stats import summarize


def fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def signed(reg: Registry, x: float, metric: str) -> str:
    return "—" if not math.isfinite(x) else ("+" if x > 1e-12 else "") + reg.show(metric, x)


def present(g: Grid, metrics: list[str] | tuple[str, ...]) -> list[str]:
    """The metrics some finished run of the section logged."""
    return [m for m in metrics if any(c.values_of(m) for c in g.cells)]


def summaries(cell: Cell, metrics: list[str]) -> dict[str, dict[str, float]]:
    return {m: summarize(cell.values_of(m)) for m in metrics}


def spread(reg: Registry, s: dict[str, float], metric: str) -> str:
    """'0.5123' for one run, '0.5123 ± 0.0100' (std over training seeds, ddof = 1) for several."""
    if s["n"] == 0:
        return "—"
    return reg.show(metric, s["mean"]) + (f" ± {reg.show(metric, s['std'])}" if s["n"] > 1 else "")


def interval(reg: Registry, s: dict[str, float], metric: str) -> str:
    return f"[{reg.show(metric, s['ci_low'])}, {reg.show(metric, s['ci_high'])}]" if s["n"] > 1 else "—"


def _keys(g: Grid, cell: Cell) -> list[str]:
    return [cell.values[f] for f in g.factors] or ["all runs"]


def _header(g: Grid) -> list[str]:
    return list(g.factors) or ["arm"]


def clustering(g: Grid, reg: Registry, refs: Lookup | None, baseline: dict[str, float] | None) -> list[str]:
    """The article-shaped table: purity (mean ± std, 95% CI), its k-means spread, NMI, ARI, feature
    dim and n per cell; the raw-feature row; a reference table's column where one applies."""
    purity, spread_km, nmi, ari, dim = CLUSTERING
    cells = [refs.cell(c.values) if refs else "" for c in g.cells]
    show_ref = any(cells)
    header = [*_header(g), f"{reg.label(purity)} mean", "95% CI", reg.label(spread_km), reg.label(nmi)]
    header += [reg.label(ari), reg.label(dim), "n"] + ([refs.heading(reg)] if show_ref else [])
    rows = []
    for cell, ref in zip(g.cells, cells, strict=True):
        s = summaries(cell, [purity, spread_km, nmi, ari, dim])
        first = spread(reg, s[purity], purity) if cell.n else cell.status()
        row = [*_keys(g, cell), first, interval(reg, s[purity], purity)]
        row += [reg.show(spread_km, s[spread_km]["mean"]), spread(reg, s[nmi], nmi)]
        row += [spread(reg, s[ari], ari), reg.show(dim, s[dim]["mean"]), cell.status()]
        rows.append(row + ([ref] if show_ref else []))
    if baseline:
        label = ["raw pixels", *[""] * (len(_header(g)) - 1)]
        row = [reg.show(purity, baseline.get(purity)), "—", reg.show(spread_km, baseline.get(spread_km))]
        row += [reg.show(nmi, baseline.get(nmi)), reg.show(ari, baseline.get(ari))]
        row += [reg.show(dim, baseline.get(dim)), "k-means only"]
        rows.append(label + row + ([refs.baseline_text()] if show_ref else []))
    return table(header, rows)


def quality(g: Grid, reg: Registry) -> list[str]:
    metrics = present(g, reg.names(table="quality"))
    rows = []
    for cell in g.cells:
        s = summaries(cell, metrics)
        rows.append([*_keys(g, cell), *(spread(reg, s[m], m) if cell.n else "—" for m in metrics), cell.status()])
    return table([*_header(g), *(reg.get(m).heading for m in metrics), "n"], rows)


def cost(g: Grid, reg: Registry) -> list[str]:
    """Parameters and the loop's time per epoch per replicate; runs logged before that metric
    existed show their wall seconds instead, labelled so."""
    metric = "epoch_cost_s" if present(g, ("epoch_cost_s",)) else "train_seconds"
    rows = []
    for cell in g.cells:
        s = summaries(cell, ["n_params", metric])
        counts = cell.runs["status"].value_counts().sort_index()
        status = ", ".join(f"{v} {k}" for k, v in counts.items()) or "missing"
        rows.append(
            [*_keys(g, cell), reg.show("n_params", s["n_params"]["mean"]), spread(reg, s[metric], metric), status]
        )
    name = reg.label(metric) if metric == "epoch_cost_s" else "train s (wall, whole run)"
    return table([*_header(g), reg.label("n_params"), name, "runs"], rows)


def effects(found: list[Effect], reg: Registry) -> list[str]:
    rows = []
    for e in (e for e in found if e.kind != "omnibus"):
        t = e.test
        kind = f"{t.kind}({t.df:.3g})" if t.tested else t.kind
        ci = f"[{reg.show(e.metric, t.ci_low)}, {reg.show(e.metric, t.ci_high)}]" if math.isfinite(t.ci_low) else "—"
        estimate = signed(reg, t.estimate, e.metric)
        rows.append([reg.get(e.metric).heading, e.label, estimate, ci, kind, str(t.n), fmt_p(t.p), fmt_p(t.p_holm)])
    return table(["metric", "comparison", "estimate", "95% CI", "test", "n", "p", "p (Holm)"], rows)


def omnibus(found: list[Effect], reg: Registry) -> list[str]:
    """The omnibus tests of the factors with more than two levels (before their comparisons with
    the reference level), one line each; none: nothing."""
    tests = [e for e in found if e.kind == "omnibus"]
    if not tests:
        return []
    lines = ["Factors with more than two levels, tested as a whole first (paired by training seed):", ""]
    lines += [f"- {reg.get(e.metric).heading}, {e.label}: {e.detail}" for e in tests]
    return lines + [""]
