"""PNG figures of one job: progress grids and loss curves (the report draws its own)."""

from __future__ import annotations

from pathlib import Path

import torch


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]


ROWS = ("input", "output", "ground truth")


def snapshot_epochs(epochs: int) -> list[int]:
    """The epochs the article shows progress at (1, 10, 20, 30, 50) that exist, and the last."""
    return sorted({e for e in (1, 10, 20, 30, 50) if e <= epochs} | {epochs})


def progress_grid(rows: list[torch.Tensor], path: Path, columns: int = 10, title: str = "") -> Path:
    """The shown images side by side, `columns` to a block, one labelled line per row kind
    (input, output, ground truth; "input = target" once when they are the same images), large
    enough to see the digits."""
    from matplotlib.figure import Figure

    rows = [_rgb(r.float().clamp(0, 1).cpu()) for r in rows]
    names = list(ROWS[: len(rows)])
    if len(rows) == 3 and torch.equal(rows[0], rows[2]):  # autoencoding: the target is the input
        rows, names = rows[:2], ["input = target", "output"]
    n, (h, w) = rows[0].shape[0], rows[0].shape[-2:]
    blocks = [range(i, min(i + columns, n)) for i in range(0, n, columns)]
    lines = [
        (f"{name}", torch.cat([_pad(r[i]) for i in block], dim=2))
        for block in blocks
        for name, r in zip(names, rows, strict=True)
    ]
    width, left, top = 10.0, 1.4, (0.45 if title else 0.05)  # inches
    line_h = width * (h + 2) / (columns * (w + 2))
    fig_w, fig_h = left + width + 0.1, top + line_h * len(lines) + 0.05
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    for k, (name, img) in enumerate(lines):
        bottom = 0.05 + line_h * (len(lines) - 1 - k)
        span = width * img.shape[2] / (columns * (w + 2))  # a short last block keeps the image scale
        ax = fig.add_axes((left / fig_w, bottom / fig_h, span / fig_w, 0.96 * line_h / fig_h))
        ax.imshow(img.permute(1, 2, 0).numpy(), interpolation="nearest", aspect="auto")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.08 / fig_h, va="top")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, facecolor="white")
    return path


def _pad(img: torch.Tensor) -> torch.Tensor:
    """An image with a 1-pixel white frame, so neighbours stay apart."""
    return torch.nn.functional.pad(img, (1, 1, 1, 1), value=1.0)


def loss_curve(train: list[float], evals: list[float], title: str, path: Path) -> Path:
    # a bare Figure with fixed axes: no pyplot state, no layout pass (0.1 s a job instead of 0.2)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.5), dpi=100)
    ax = fig.add_axes((0.17, 0.15, 0.79, 0.75))  # room for log-scale tick labels and the y label
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    ax.plot(epochs, evals, label="eval")
    ax.set(xlabel="epoch", ylabel="loss", title=title, yscale="log")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
