"""The report's pictures: all arms' loss curves on one plot, purity with error bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# fixed metadata so the same runs give byte-identical PNGs
_META = {"Software": None, "Creation Time": None}


def loss_curves(series: dict[str, list[list[float]]], title: str, path: Path) -> Path:
    """series: arm label -> one eval-loss curve per training seed; mean line, band = min..max."""
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    for label, curves in series.items():
        length = min(len(c) for c in curves)
        if length == 0:
            continue
        arr = np.array([c[:length] for c in curves])
        epochs = np.arange(1, length + 1)
        line = ax.plot(epochs, arr.mean(0), label=f"{label} (n={len(curves)})")[0]
        if len(curves) > 1:
            ax.fill_between(epochs, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2)
    ax.set(xlabel="epoch", ylabel="eval loss", yscale="log", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)
    return path


def purity_chart(
    labels: list[str], means: list[float], errors: list[float], baseline: float | None, title: str, path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    x = np.arange(len(labels))
    ax.bar(x, means, yerr=np.nan_to_num(errors), capsize=4, color="#4c72b0")
    if baseline is not None:
        ax.axhline(baseline, color="#c44e52", ls="--", label="raw pixels")
        ax.legend(fontsize=8)
    ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="k-means purity", ylim=(0, 1), title=title)
    fig.tight_layout()
    fig.savefig(path, metadata=_META)
    plt.close(fig)
    return path
