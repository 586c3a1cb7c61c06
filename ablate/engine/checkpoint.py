"""Epoch checkpoints that resume bit-for-bit, one format for one model and for a pack: the epoch,
the members' weights stacked along a leading member axis (R = 1 for one model), the optimizer,
each member's batch order, history, mask and stop epoch (trainer.stop=converged; None while it
trains), every global RNG, and `meta`, what the caller asked to keep (opaque here: a job stores
the runs the members log to). A checkpoint written before stops existed has no stop epochs: it
loads, with no member stopped.

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


def rng_state() -> dict[str, torch.Tensor]:
    """Python's, numpy's and torch's global RNGs (CUDA's too when it started), as tensors."""
    version, mt, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": torch.tensor([version, *mt, -1 if gauss is None else 1], dtype=torch.int64),
        "python_gauss": torch.tensor([0.0 if gauss is None else gauss], dtype=torch.float64),
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_rest": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_cached": torch.tensor([cached], dtype=torch.float64),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    py = state["python"].tolist()
    gauss = None if py[-1] == -1 else float(state["python_gauss"][0])
    random.setstate((py[0], tuple(py[1:-1]), gauss))
    pos, has_gauss = state["numpy_rest"].tolist()
    np.random.set_state(
        ("MT19937", state["numpy"].numpy().astype(np.uint32), pos, has_gauss, float(state["numpy_cached"][0]))
    )
    torch.set_rng_state(state["torch"])
    cuda = [state[k] for k in sorted(k for k in state if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


# what every checkpoint holds (save below): a file without it is another format, never loaded
# ("stopped" is not required: older checkpoints lack it and mean no member stopped)
FORMAT = {"epoch", "weights", "optimizer", "orders", "rng", "histories", "masked", "meta"}


def save(
    path: Path,
    *,
    epoch: int,
    weights: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    orders: list[torch.Generator],
    histories: list[dict[str, list[float]]],
    masked: list[bool],
    meta: dict[str, Any],
    stopped: list[int | None] | None = None,
) -> None:
    """The state after `epoch`; `weights` (R, ...) and one order, history, mask and stop epoch
    per member (`stopped` None: none stopped)."""
    payload = {
        "epoch": epoch,
        "weights": weights,
        "optimizer": optimizer.state_dict(),
        "orders": [g.get_state() for g in orders],
        "rng": rng_state(),
        "histories": histories,
        "masked": masked,
        "stopped": stopped if stopped is not None else [None] * len(histories),
        "meta": meta,
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
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing = sorted(FORMAT - set(state)) if isinstance(state, dict) else sorted(FORMAT)
        if missing:  # another format (an older ablate's): as unreadable as a torn file
            raise ValueError(f"not this version's checkpoint format (no {', '.join(missing)})")
        return state
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:  # unreadable (an OSError is not)
        if not set_aside:  # a dry run looks, never moves
            return None
        aside = path.parent.parent / "corrupt" / f"{path.parent.name}-{int(time.time())}-{path.name}"
        aside.parent.mkdir(exist_ok=True)
        path.replace(aside)
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        line = f"warning: checkpoint {path} is unreadable ({reason}): set aside as {aside}; training from scratch"
        print(line, file=sys.stderr, flush=True)
        return None
