"""Epoch checkpoints that resume bit-for-bit: model, optimizer, epoch, history and every RNG.

Loaded with `weights_only=True` (no pickled code runs), so every RNG state is stored as a tensor.
Written to a temporary file and renamed, so a kill mid-write never leaves a torn checkpoint.
"""

from __future__ import annotations

import pickle
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def rng_state(order: torch.Generator) -> dict[str, torch.Tensor]:
    version, mt, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": torch.tensor([version, *mt, -1 if gauss is None else 1], dtype=torch.int64),
        "python_gauss": torch.tensor([0.0 if gauss is None else gauss], dtype=torch.float64),
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_rest": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_cached": torch.tensor([cached], dtype=torch.float64),
        "torch": torch.get_rng_state(),
        "order": order.get_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    return state


def set_rng_state(state: dict[str, torch.Tensor], order: torch.Generator) -> None:
    py = state["python"].tolist()
    gauss = None if py[-1] == -1 else float(state["python_gauss"][0])
    random.setstate((py[0], tuple(py[1:-1]), gauss))
    pos, has_gauss = state["numpy_rest"].tolist()
    np.random.set_state(
        ("MT19937", state["numpy"].numpy().astype(np.uint32), pos, has_gauss, float(state["numpy_cached"][0]))
    )
    torch.set_rng_state(state["torch"])
    order.set_state(state["order"])
    cuda = [state[k] for k in sorted(k for k in state if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def save(
    path: Path,
    *,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    order: torch.Generator,
    history: dict[str, list[float]],
) -> None:
    payload = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(order),
        "history": history,
    }
    write(path, payload)


def write(path: Path, payload: dict[str, Any]) -> None:
    """Write to a temporary file, then rename: a kill mid-write leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load(path: Path, set_aside: bool = True) -> dict[str, Any] | None:
    """The checkpoint, or None when it cannot be read (truncated, corrupt, written by something
    else): it is set aside (<checkpoint_dir>/corrupt/<fingerprint>-last.pt), named in one warning
    line, and the job trains from scratch instead of failing on every rerun."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:  # unreadable (an OSError is not)
        if not set_aside:  # a dry run looks, never moves
            return None
        aside = path.parent.parent / "corrupt" / f"{path.parent.name}-{int(time.time())}-{path.name}"
        aside.parent.mkdir(exist_ok=True)
        path.replace(aside)
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        print(f"warning: checkpoint {path} is unreadable ({reason}): set aside as {aside}; training from scratch",
              file=sys.stderr, flush=True)  # fmt: skip
        return None
