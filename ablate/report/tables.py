"""Markdown tables of one task and dataset: clustering, output quality, cost, effects."""

from __future__ import annotations

import math

from ablate.report import article
from ablate.report.collect import EARLY
from ablate.report.effects import Cell, Effect, Grid
from ablate.report.markdown import table
from ablate.report.stats import summarize

CLUSTER = ("purity_mean", "purity_std", "nmi_mean", "ari_mean", "latent_dim")
QUALITY = ("final_train_loss", "final_eval_loss", EARLY, "psnr", "ssim", "miou", "pixel_acc")
COST = ("n_params", "epoch_cost_s")
# the metrics whose effects are estimated and tested (those a section has)
EFFECTS = ("purity_mean", "final_eval_loss", EARLY, "psnr", "ssim", "miou", "pixel_acc")
NAMES = {
    "purity_mean": "purity",
    "purity_std": "k-means std",
    "nmi_mean": "NMI",
    "ari_mean": "ARI",
    "latent_dim": "feature dim",
    "final_train_loss": "final train loss",
    "final_eval_loss": "final eval loss",
    EARLY: "eval loss, epoch 1",
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "miou": "mIoU",
    "pixel_acc": "pixel accuracy",
    "n_params": "trainable params",
    "train_seconds": "train s",
    "epoch_cost_s": "s per epoch per replicate",
}
_UNIT = {"purity_mean", "purity_std", "nmi_mean", "ari_mean", "ssim", "miou", "pixel_acc"}


def fmt(x: float | None, metric: str = "") -> str:
    """Numbers as the tables show them: 4 decimals for [0, 1] scores, 4 significant digits else."""
    if x is None or not math.isfinite(x):
        return "—"
    x = 0.0 if abs(x) < 1e-12 else x  # rounding residue of a zero difference: same text everywhere
    if metric in _UNIT:
        return f"{x:.4f}"
    if metric == "psnr":
        return f"{x:.2f}"
    if metric in ("n_params", "latent_dim"):
        return f"{x:,.0f}"
    if metric in ("train_seconds", "epoch_cost_s"):
        return f"{x:.3g}" if metric == "epoch_cost_s" else f"{x:.1f}"
    return f"{x:.4g}"


def fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def signed(x: float, metric: str) -> str:
    return "—" if not math.isfinite(x) else ("+" if x > 1e-12 else "") + fmt(x, metric)


def present(g: Grid, metrics: tuple[str, ...]) -> list[str]:
    """The metrics some finished run of the section logged."""
    return [m for m in metrics if any(c.values_of(m) for c in g.cells)]


def summaries(cell: Cell, metrics: list[str]) -> dict[str, dict[str, float]]:
    return {m: summarize(cell.values_of(m)) for m in metrics}


def spread(s: dict[str, float], metric: str) -> str:
    """'0.5123' for one run, '0.5123 ± 0.0100' (std over training seeds, ddof = 1) for several."""
    if s["n"] == 0:
        return "—"
    return fmt(s["mean"], metric) + (f" ± {fmt(s['std'], metric)}" if s["n"] > 1 else "")


def interval(s: dict[str, float], metric: str) -> str:
    return f"[{fmt(s['ci_low'], metric)}, {fmt(s['ci_high'], metric)}]" if s["n"] > 1 else "—"


def _keys(g: Grid, cell: Cell) -> list[str]:
    return [cell.values[f] for f in g.factors] or ["all runs"]


def _header(g: Grid) -> list[str]:
    return list(g.factors) or ["arm"]


def clustering(g: Grid, task: str, data: str, baseline: dict[str, float] | None) -> list[str]:
    refs = [article.reference(c.values, task, data) for c in g.cells]
    show_ref = any(refs)
    header = [*_header(g), "purity mean", "95% CI", "k-means std", "NMI", "ARI", "feature dim", "n"]
    header += ["article purity"] if show_ref else []
    rows = []
    for cell, ref in zip(g.cells, refs, strict=True):
        s = summaries(cell, list(CLUSTER))
        first = spread(s["purity_mean"], "purity_mean") if cell.n else cell.status()
        row = [*_keys(g, cell), first, interval(s["purity_mean"], "purity_mean")]
        row += [fmt(s["purity_std"]["mean"], "purity_std"), spread(s["nmi_mean"], "nmi_mean")]
        row += [spread(s["ari_mean"], "ari_mean"), fmt(s["latent_dim"]["mean"], "latent_dim"), cell.status()]
        rows.append(row + ([ref] if show_ref else []))
    if baseline:
        label = ["raw pixels", *[""] * (len(_header(g)) - 1)]
        row = [fmt(baseline.get("purity_mean"), "purity_mean"), "—", fmt(baseline.get("purity_std"), "purity_std")]
        row += [fmt(baseline.get("nmi_mean"), "nmi_mean"), fmt(baseline.get("ari_mean"), "ari_mean")]
        row += [fmt(baseline.get("latent_dim"), "latent_dim"), "k-means only"]
        rows.append(label + row + ([article.raw_reference(task, data)] if show_ref else []))
    return table(header, rows)


def quality(g: Grid) -> list[str]:
    metrics = present(g, QUALITY)
    rows = []
    for cell in g.cells:
        s = summaries(cell, metrics)
        rows.append([*_keys(g, cell), *(spread(s[m], m) if cell.n else "—" for m in metrics), cell.status()])
    return table([*_header(g), *(NAMES[m] for m in metrics), "n"], rows)


def cost(g: Grid) -> list[str]:
    """Parameters and the loop's time per epoch per replicate; runs logged before that metric
    existed show their wall seconds instead, labelled so."""
    metric = "epoch_cost_s" if present(g, ("epoch_cost_s",)) else "train_seconds"
    rows = []
    for cell in g.cells:
        s = summaries(cell, ["n_params", metric])
        counts = cell.runs["status"].value_counts().sort_index()
        status = ", ".join(f"{v} {k}" for k, v in counts.items()) or "missing"
        rows.append([*_keys(g, cell), fmt(s["n_params"]["mean"], "n_params"), spread(s[metric], metric), status])
    name = NAMES[metric] if metric == "epoch_cost_s" else "train s (wall, whole run)"
    return table([*_header(g), NAMES["n_params"], name, "runs"], rows)


def effects(found: list[Effect]) -> list[str]:
    rows = []
    for e in found:
        t = e.test
        kind = f"{t.kind}({t.df:.3g})" if t.tested else t.kind
        ci = f"[{fmt(t.ci_low, e.metric)}, {fmt(t.ci_high, e.metric)}]" if math.isfinite(t.ci_low) else "—"
        name = NAMES.get(e.metric, e.metric)
        rows.append([name, e.label, signed(t.estimate, e.metric), ci, kind, str(t.n), fmt_p(t.p), fmt_p(t.p_holm)])
    return table(["metric", "comparison", "estimate", "95% CI", "test", "n", "p", "p (Holm)"], rows)
