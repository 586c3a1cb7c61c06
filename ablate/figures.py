"""PNG figures of one job: progress grids and loss curves (the report draws its own)."""

from __future__ import annotations

from pathlib import Path

import torch


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]


def progress_grid(rows: list[torch.Tensor], path: Path, columns: int = 10) -> Path:
    """Each image as a vertical strip (input over output over ground truth), strips laid out
    `columns` to a line, so 100 images make a readable 10 x 10 block."""
    # imported here: torchvision.utils pulls in torch._dynamo (~2 s per worker process at start-up)
    from torchvision.utils import make_grid, save_image

    rows = [_rgb(r.float().clamp(0, 1).cpu()) for r in rows]
    gap = torch.ones(rows[0].shape[0], 3, 1, rows[0].shape[-1])
    strips = torch.cat([part for r in rows for part in (r, gap)][:-1], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(strips, nrow=min(columns, len(strips)), padding=2, pad_value=1.0), path)
    return path


def loss_curve(train: list[float], evals: list[float], title: str, path: Path) -> Path:
    # a bare Figure with fixed axes: no pyplot state, no layout pass (0.1 s a job instead of 0.2)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2), dpi=100)
    ax = fig.add_axes((0.14, 0.14, 0.82, 0.76))
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    ax.plot(epochs, evals, label="eval")
    ax.set(xlabel="epoch", ylabel="loss", title=title, yscale="log")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
