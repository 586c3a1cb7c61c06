"""The report's pictures: all arms' curves on one plot, purity with error bars.

Byte-identical for the same numbers: the Agg backend, a fixed size and dpi, and no timestamp
or software version in the PNG metadata.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

_META = {"Software": None, "Creation Time": None}


def short(cell: dict[str, str]) -> str:
    """'lr=0.001, hidden=64' from {'trainer.lr': '0.001', 'model.hidden': '64'}: legends and ticks stay readable."""
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in cell.items()) or "all runs"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)
    return path


def curves(series: dict[str, list[list[tuple[int, float]]]], ylabel: str, title: str, path: Path) -> Path:
    """series: arm label -> one [(epoch, value)] curve per training seed. Mean line over the
    seeds at the epochs they all logged; band = min..max over seeds (the spread, not a CI)."""
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    positive = True
    for label, runs in series.items():
        steps = sorted(set.intersection(*(set(dict(r)) for r in runs)))
        if not steps:
            continue
        arr = np.array([[dict(r)[s] for s in steps] for r in runs])
        positive &= bool((arr > 0).all())
        line = ax.plot(steps, arr.mean(0), label=f"{label} (n={len(runs)})")[0]
        if len(runs) > 1:
            ax.fill_between(steps, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if positive and "loss" in ylabel:
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize=7, framealpha=0.6)
    return _save(fig, path)


def purity_chart(
    labels: list[str], means: list[float], errors: list[float], baseline: float | None, title: str, path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(means), yerr=np.nan_to_num(errors), capsize=4, color="#4c72b0")
    if baseline is not None:
        ax.axhline(baseline, color="#c44e52", ls="--", label="raw pixels")
        ax.legend(fontsize=8)
    ax.set_xticks(x, [label.replace(", ", "\n") for label in labels], fontsize=8)
    ax.set(ylabel="k-means purity", ylim=(0, 1), title=title)
    return _save(fig, path)


def strip(labels: list[str], values: list[list[float]], ylabel: str, title: str, path: Path) -> Path:
    """Each arm's training seeds as dots (a collapsed seed among good ones stays visible), with the mean as a bar."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for i, vals in enumerate(values):
        jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else np.zeros(1)
        ax.scatter(i + jitter, vals, s=22, color="#4c72b0", alpha=0.8, zorder=3)
        if vals:
            ax.hlines(np.mean(vals), i - 0.25, i + 0.25, color="#333333", lw=2, zorder=2)
    ax.set_xticks(np.arange(len(labels)), [label.replace(", ", "\n") for label in labels], fontsize=8)
    ax.set(ylabel=ylabel, title=title, xlim=(-0.6, len(labels) - 0.4))
    return _save(fig, path)
