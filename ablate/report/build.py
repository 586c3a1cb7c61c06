"""Assemble the report of one sweep: markdown with tables, verdicts and pictures, plus the CSV and
JSON of every number (export.py). The same code runs at the end of a multirun and in
`python -m ablate.report`, and reads nothing but the tracking store: the same runs give the same
bytes (no clock, no absolute paths, stable orders, fixed PNG metadata)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ablate.report import export, figures, markdown, tables
from ablate.report.analysis import Section, analyze
from ablate.report.collect import REPLICATE, Study, collect, natural
from ablate.report.designs import describe
from ablate.report.search import best_params_section
from ablate.report.summary import summary
from ablate.tracking.store import REUSED, Tracker, redact
from ablate.tracking.tags import ROUNDS
from ablate.tracking.tags import get as tag

_GRID_COLUMNS = 6  # progress snapshots shown per arm: first, last and evenly between


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "run"


def _clustering(s: Section, study: Study, out: Path) -> list[str]:
    params = study.parent["params"]
    lines = ["### Latent clustering (k-means purity, NMI, ARI on the eval split)", ""]
    lines += tables.clustering(s.grid, s.reg, s.refs, s.baseline) + [""]
    lines += [
        f"k-means: K = number of classes, {params.get('kmeans_seeds', '?')} seeds × n_init "
        f"{params.get('n_init', '?')} on the same features. 'purity mean' is mean ± std over training seeds "
        "(ddof = 1) with its 95% t interval; 'k-means std' is the population std over k-means seeds within a "
        "run (the article's ±), averaged over training seeds: two sources of variance, kept apart. "
        "'n' counts finished training runs.",
        "",
    ]
    if s.refs and any(s.refs.cell(c.values) for c in s.grid.cells):
        lines += [f"{s.refs.table.label.capitalize()} column: {s.refs.table.note}.", ""]
    cells = [c for c in s.grid.cells if c.n]
    sums = [tables.summaries(c, ["purity_mean", "purity_std"]) for c in cells]
    means = [x["purity_mean"]["mean"] for x in sums]
    errs = [
        x["purity_mean"]["ci_high"] - x["purity_mean"]["mean"] if x["purity_mean"]["n"] > 1 else x["purity_std"]["mean"]
        for x in sums
    ]
    base = (s.baseline or {}).get("purity_mean")
    labels, title = [figures.short(c.values) for c in cells], f"{s.task} on {s.data}"
    chart = figures.purity_chart(labels, means, errs, base, title, out / f"purity_{s.tag}.png")
    what = (
        "95% CI over training seeds"
        if all(x["purity_mean"]["n"] > 1 for x in sums)
        else ("95% CI over training seeds where n > 1, else the k-means std")
    )
    lines += [f"![purity]({chart.name})", "", f"Error bars: {what}.", ""]
    if any(c.n > 1 for c in cells):  # each training seed a dot: a bimodal arm shows
        seeds = [c.values_of("purity_mean") for c in cells]
        dots = figures.strip(
            labels, seeds, "k-means purity", f"{title}: each training seed", out / f"seeds_{s.tag}.png"
        )
        lines += [f"![purity per training seed]({dots.name})", ""]
    return lines


def _curves(s: Section, study: Study, out: Path) -> list[str]:
    lines = []
    for metric in (m for m in s.reg.names(per_epoch=True) if m != "train_loss"):
        series = {}
        for cell in s.grid.cells:
            runs = [study.curves.get(r, {}).get(metric) for r in cell.finished["run_id"]]
            if runs := [r for r in runs if r]:
                series[figures.short(cell.values)] = runs
        if not any(len(r) > 1 for runs in series.values() for r in runs):
            continue  # only a final value: no curve to draw
        name = s.reg.get(metric).heading
        path = figures.curves(series, name, f"{s.task} on {s.data}: {name}", out / f"{metric}_{s.tag}.png")
        lines += [f"![{metric}]({path.name})", ""]
    if lines:
        lines = ["### Curves (mean over training seeds; band: min to max)", "", *lines]
    return lines


def _epoch(path: str) -> int:
    digits = re.findall(r"\d+", Path(path).stem)
    return int(digits[-1]) if digits else 0


def _progress(s: Section, study: Study, tracker: Tracker, out: Path) -> list[str]:
    """Progress grids side by side: one row per arm (its first finished training seed), one column
    per snapshot epoch. Each grid's rows: input, output, ground truth. Read from the store here,
    only for the runs shown."""
    shots = {}
    for cell in s.grid.cells:
        if cell.n:
            run_id = cell.finished.iloc[0]["run_id"]
            # a skipped job's run holds copied numbers; its pictures stay with the run that made them
            run_id = tag(tracker.run(run_id)["tags"], REUSED, run_id)
            if paths := sorted(tracker.list_artifacts(run_id, "progress")):
                shots[cell.label] = (run_id, {_epoch(p): p for p in paths})
    epochs = sorted({e for _, found in shots.values() for e in found})
    if not epochs:
        return []
    if len(epochs) > _GRID_COLUMNS:
        picks = {round(i * (len(epochs) - 1) / (_GRID_COLUMNS - 1)) for i in range(_GRID_COLUMNS)}
        epochs = [epochs[i] for i in sorted(picks)]
    rows = []
    for label, (run_id, found) in shots.items():
        row = [label]
        for epoch in epochs:
            if epoch in found:
                local = tracker.download(run_id, found[epoch], out / "grids" / _slug(f"{s.tag}_{label}"))
                row.append(f"![epoch {epoch}]({local.resolve().relative_to(out.resolve()).as_posix()})")
            else:
                row.append("—")
        rows.append(row)
    header = ["arm", *(f"epoch {e}" for e in epochs)]
    return ["### Progress (each grid: input, output, ground truth)", "", *markdown.table(header, rows), ""]


def _section(s: Section, study: Study, tracker: Tracker, out: Path) -> list[str]:
    lines = [f"## {s.task} on {s.data}", "", *describe(s.arms)]
    if "purity_mean" in tables.present(s.grid, ("purity_mean",)) or s.baseline:
        lines += _clustering(s, study, out)
    lines += ["### Output quality (mean ± std over training seeds)", "", *tables.quality(s.grid, s.reg), ""]
    lines += ["### Cost", "", *tables.cost(s.grid, s.reg), ""]
    lines += [
        "Cost: one epoch of the training loop (training and eval-loss passes) per replicate, in CPU process "
        "time on a CPU (other jobs on the machine do not inflate it; a pack's time is shared by its replicates), "
        "in wall time on a GPU.",
        "",
    ]
    failed = s.rows[s.rows["status"] != "FINISHED"]
    for _, r in failed.iterrows():
        log = f" (log: `{r['log']}`)" if isinstance(r.get("log"), str) and r["log"] else ""
        lines.append(f"- {r['status']}: `{r['name']}` ({r['run_id'][:8]}) {r['error']}".rstrip() + log)
    lines += [""] if len(failed) else []
    if s.effects and any(e.test.tested for e in s.effects):  # at n < 2 there is nothing to test
        lines += [
            "### Effects (differences of cell means; paired t over shared training seeds, else Welch; "
            "Holm within each metric)",
            "",
            *tables.effects(s.effects, s.reg),
            "",
            *tables.omnibus(s.effects, s.reg),
        ]
    return lines + _curves(s, study, out) + _progress(s, study, tracker, out)


def _levels(study: Study, key: str) -> str:
    values = sorted(study.runs[key].astype(str).unique(), key=natural) if len(study.runs) else []
    return f"`{key}` ({', '.join(values)})" if values else f"`{key}`"


def render(study: Study, sections: list[Section], tracker: Tracker, out: Path, command: str) -> str:
    parent, runs = study.parent, study.runs
    counts = runs["status"].value_counts().sort_index() if len(runs) else {}
    replicates = (
        f"training seeds {_levels(study, REPLICATE)}" if study.replicated else "none (one training run per cell)"
    )
    lines = [f"# Ablation report: {parent['name']}", "", *summary(study, sections, command)]
    for s in sections:
        lines += _section(s, study, tracker, out)
    lines += [
        "## Details",
        "",
        f"- experiment: `{study.experiment}`; parent run: `{parent['run_id']}`",
        f"- command: `{command}`",
        f"- factors: {' × '.join(_levels(study, f) for f in study.factors) or 'none'}; replicates: {replicates}",
        "- jobs: " + (", ".join(f"{v} {k}" for k, v in counts.items()) or "none"),
        f"- rebuild from the tracking store: `python -m ablate.report --run-id {parent['run_id']}`",
        "",
        "### What this supports",
        "",
    ]
    if study.replicated:
        lines.append(
            "Means carry ± std over training seeds (ddof = 1) and 95% t intervals; effects are differences of "
            "cell means with 95% intervals, tested with a paired t over the training seeds the cells share "
            "(Welch where they share fewer than two), Holm-corrected within each metric of a task and dataset: "
            "a description of the grid. The claims' verdicts use their own intervals, which hold for every "
            "deciding effect of every claim at once and over every round of seeds (the summary's last lines): a "
            "claim is supported when its intervals lie on the claimed side of 0, contradicted when one lies on the "
            "other side, 'no effect' when one lies within its declared margin, otherwise inconclusive at this n; "
            "the size against a reference is a separate answer. No verdict is given from arms whose training had "
            "not converged: such claims are provisional. Speed: the eval-loss AUC is the mean eval loss of epochs "
            f"1 to {study.speed.horizon} (a run stopped earlier keeps its last loss), and "
            + (
                f"epochs to the speed threshold count the first epoch at eval loss <= {study.speed.threshold:g} "
                "(a run that never got there counts as its ceiling + 1)."
                if study.speed.threshold is not None
                else "no speed threshold was declared (speed.threshold)."
            )
        )
    else:
        lines.append(
            "Each cell holds one training run (n = 1): the tables describe these runs, the k-means std is not "
            "training variance, and no difference between arms is tested. Add training seeds "
            "(`seed=0,1,2`, or `sweep=article_purity`) for error bars, tests and verdicts."
        )
    return "\n".join(lines).rstrip() + "\n"


def write_report(tracker: Tracker, parent_id: str, out: Path) -> Path:
    """Build the report of a sweep from the tracking store alone; returns the markdown path. It is
    written into a hidden folder beside `out`, then moved into it file by file: an interrupted
    report leaves no half-written folder (and the previous report stays until the new one is done)."""
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        study = collect(tracker, parent_id)
        sections = analyze(study)
        command = redact(study.parent["tags"].get("ablate.command", "?"))
        text = render(study, sections, tracker, work, command)
        search = best_params_section(study.children, in_rounds=bool(study.parent["tags"].get(ROUNDS)))
        if search:  # an Optuna search: the values each arm's study found best
            text += "\n" + "\n".join(search)
        export.write(work, study, sections, command)
        (work / "report.md").write_text(text)
        for done in sorted(p for p in work.rglob("*") if p.is_file()):  # into `out`, its other files left alone
            (out / done.relative_to(work)).parent.mkdir(parents=True, exist_ok=True)
            done.replace(out / done.relative_to(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out / "report.md"
