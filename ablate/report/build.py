"""Assemble the report of one sweep: markdown tables, CSV of every number, PNGs beside it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ablate.report import article, figures
from ablate.report.collect import GROUPS, REPLICATE, Study, collect
from ablate.report.stats import cells, summarize
from ablate.tracking import Tracker


def _fmt(x: float, digits: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _label(cell: dict) -> str:
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in cell.items()) or "all runs"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "run"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _metric(rows: pd.DataFrame, key: str) -> dict[str, float]:
    return summarize(rows[key]) if key in rows else summarize(pd.Series(dtype=float))


def _with_spread(s: dict[str, float], digits: int = 4) -> str:
    """'0.5123' for one run; '0.5123 ± 0.0100 (95% CI ± 0.0248)' over training seeds."""
    if s["n"] == 0:
        return "—"
    if s["n"] == 1:
        return _fmt(s["mean"], digits)
    return f"{_fmt(s['mean'], digits)} ± {_fmt(s['std'], digits)} (CI ± {_fmt(s['ci95'], digits)})"


def _section(study: Study, task: str, data: str, rows: pd.DataFrame, out: Path, tracker: Tracker) -> list[str]:
    lines = [f"## {task} on {data}", ""]
    factors, ok = study.factors, rows[rows["status"] == "FINISHED"]
    grid = cells(rows, factors)
    tag = _slug(f"{task}_{data}")

    # latent clustering: the article's table shape
    if "purity_mean" in ok:
        base = study.parent["metrics"]
        suffix = "" if "baseline_purity_mean" in base else f"_{data}"
        header = [*factors, "purity mean", "k-means std", "NMI", "ARI", "feature dim", "n", "article purity"]
        body, labels, means, errs = [], [], [], []
        for cell, members in grid:
            good = members[members["status"] == "FINISHED"]
            p = _metric(good, "purity_mean")
            body.append(
                [
                    *map(str, cell.values()),
                    _with_spread(p),
                    _fmt(_metric(good, "purity_std")["mean"]),
                    _fmt(_metric(good, "nmi_mean")["mean"]),
                    _fmt(_metric(good, "ari_mean")["mean"]),
                    _fmt(_metric(good, "latent_dim")["mean"], 0),
                    f"{p['n']}/{len(members)}",
                    article.reference(cell, task, data),
                ]
            )
            labels.append(_label(cell))
            means.append(p["mean"])
            errs.append(p["std"] if p["n"] > 1 else _metric(good, "purity_std")["mean"])
        if f"baseline_purity_mean{suffix}" in base:
            b = {
                k: base.get(f"baseline_{k}{suffix}", math.nan)
                for k in ("purity_mean", "purity_std", "nmi_mean", "ari_mean", "latent_dim")
            }
            body.append(
                [
                    "raw pixels",
                    *[""] * (len(factors) - 1),
                    _fmt(b["purity_mean"]),
                    _fmt(b["purity_std"]),
                    _fmt(b["nmi_mean"]),
                    _fmt(b["ari_mean"]),
                    _fmt(b["latent_dim"], 0),
                    "—",
                    article.raw_reference(task, data),
                ][: len(header)]
            )
        seeds, n_init = study.parent["params"].get("kmeans_seeds", "?"), study.parent["params"].get("n_init", "?")
        lines += ["### Latent clustering (k-means purity, NMI, ARI on the eval split)", ""]
        lines += _table(header, body)
        lines += [
            "",
            f"k-means: K = number of classes, {seeds} seeds × n_init {n_init} on the same features; "
            "'k-means std' is the population std over those seeds (the article's ±). "
            + (
                "'purity mean' is mean ± std over training seeds (ddof = 1) with a 95% t interval."
                if study.replicated
                else "Each arm was trained once: the k-means std is not training variance."
            ),
            "",
        ]
        if any(article.reference(c, task, data) for c, _ in grid):
            lines += [f"Article column: {article.NOTE}.", ""]
        chart = figures.purity_chart(
            labels,
            means,
            errs,
            base.get(f"baseline_purity_mean{suffix}"),
            f"{task} on {data}",
            out / f"purity_{tag}.png",
        )
        lines += [f"![purity]({chart.name})", ""]

    # training quality
    header = [*factors, "final train loss", "final eval loss", "trainable params", "train s", "status"]
    body = []
    for cell, members in grid:
        good = members[members["status"] == "FINISHED"]
        status = ", ".join(f"{v} {k}" for k, v in members["status"].value_counts().sort_index().items())
        body.append(
            [
                *map(str, cell.values()),
                _with_spread(_metric(good, "final_train_loss"), 2),
                _with_spread(_metric(good, "final_eval_loss"), 2),
                _fmt(_metric(good, "n_params")["mean"], 0),
                _fmt(_metric(good, "train_seconds")["mean"], 1),
                status,
            ]
        )
    lines += ["### Training", ""] + _table(header, body) + [""]
    failed = rows[rows["status"] != "FINISHED"]
    for _, r in failed.iterrows():
        lines.append(f"- {r['status']}: `{r['name']}` ({r['run_id'][:8]}) {r['error']}")
    if len(failed):
        lines.append("")

    series = {
        _label(c): [study.curves[r]["eval_loss"] for r in m[m["status"] == "FINISHED"]["run_id"]] for c, m in grid
    }
    series = {k: v for k, v in series.items() if v}
    if series:
        curve = figures.loss_curves(series, f"{task} on {data}: eval loss", out / f"loss_{tag}.png")
        lines += [f"![loss curves]({curve.name})", ""]
    lines += _grids(grid, tracker, out / "grids", tag)
    return lines


def _grids(grid, tracker: Tracker, folder: Path, tag: str) -> list[str]:
    """First and last progress grid of each arm's first finished run (rows: input, output, target)."""
    body = []
    for cell, members in grid:
        good = members[members["status"] == "FINISHED"]
        if good.empty:
            continue
        run_id = good.iloc[0]["run_id"]
        shots = sorted(tracker.list_artifacts(run_id, "progress"))
        links = []
        for path in (shots[:1] + shots[-1:]) if len(shots) > 1 else shots:
            local = tracker.download(run_id, path, folder / _slug(f"{tag}_{_label(cell)}"))
            links.append(f"![{Path(path).stem}]({local.relative_to(folder.parent).as_posix()})")
        if links:
            body.append([_label(cell), *links])
    if not body:
        return []
    return [
        "### Progress (rows: input, output, target; first and last epoch)",
        "",
        *_table(["arm", "first", "last"], body),
        "",
    ]


def _verdicts(study: Study) -> list[str]:
    n = study.runs.groupby(study.factors)["run_id"].count().min() if study.factors else len(study.runs)
    if not study.replicated:
        return [
            "## What this supports",
            "",
            f"Each cell holds one training run (n = {n}). The tables describe these runs; they do not "
            "say whether differences between arms would survive another training seed. Add training "
            "seeds (`seed=0,1,2`, or `sweep=article_purity`) for error bars and tests.",
            "",
        ]
    return [
        "## What this supports",
        "",
        f"Cells hold up to {n} training seeds each; means carry ± std (ddof = 1) and a 95% t interval. "
        "Where two cells' intervals overlap, their difference is not established at this n.",
        "",
    ]


def render(study: Study, tracker: Tracker, out: Path) -> str:
    parent, runs = study.parent, study.runs
    counts = runs["status"].value_counts().sort_index() if len(runs) else pd.Series(dtype=int)
    lines = [
        f"# Ablation report: {parent['name']}",
        "",
        f"- command: `{parent['tags'].get('ablate.command', '?')}`",
        f"- parent run: `{parent['run_id']}`",
        f"- factors: {', '.join(study.factors) or 'none'}; replicates: "
        + ("training seeds (`seed`)" if study.replicated else "none (one training run per cell)"),
        "- jobs: " + (", ".join(f"{v} {k}" for k, v in counts.items()) or "none"),
        "",
    ]
    for (task, data), rows in runs.groupby(list(GROUPS), sort=True):
        lines += _section(study, task, data, rows, out, tracker)
    lines += _verdicts(study)
    return "\n".join(lines).rstrip() + "\n"


def write_report(tracker: Tracker, parent_id: str, out: Path) -> Path:
    """Build the report of a sweep from the tracking store alone; returns the markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    study = collect(tracker, parent_id)
    text = render(study, tracker, out)
    columns = [c for c in study.runs.columns if c not in ("error",)]
    study.runs[columns].drop(columns=["name"]).to_csv(out / "results.csv", index=False, float_format="%.6g")
    path = out / "report.md"
    path.write_text(text)
    return path


__all__ = ["write_report", "REPLICATE"]
