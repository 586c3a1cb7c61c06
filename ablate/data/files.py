"""What the full-set loaders share: finding (or downloading) their files, and uint8 -> float.

The full sets are read from the files torchvision's own dataset classes leave on disk, with the
small readers in mnist_idx.py, cifar10.py and stl10.py; torchvision itself is used only to
download (it verifies the archives' checksums). A missing file is one line saying where it
should be and how to get it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ablate.data.base import ImageSet, split

CHUNK = 1024  # images converted to float per step: the uint8 source is never copied whole


def require(
    name: str,
    paths: list[Path],
    *,
    download: bool,
    fetch: Callable[[], object],
    what: str,
    exists: Callable[[Path], bool] = Path.exists,
) -> None:
    """Return when every path exists, after `fetch()` (a torchvision download) if allowed; else
    raise FileNotFoundError, one line: what is missing, where (absolute), and how to get it."""
    paths = [p.absolute() for p in paths]
    missing = [p for p in paths if not exists(p)]
    how = f"set data.download=true or place {what} there"
    if missing and download:
        try:
            fetch()
        except Exception as exc:  # noqa: BLE001 - no network, bad checksum, full disk: all one line
            how = f"data.download=true failed ({type(exc).__name__}: {exc}); place {what} there"
        missing = [p for p in paths if not exists(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        message = f"{name}: missing {missing[0].name}{more} in {missing[0].parent}; {how}"
        raise FileNotFoundError(" ".join(message.split()))  # one line, whatever the cause said


def to_images(x: np.ndarray, index: np.ndarray | None = None, transpose: bool = False) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1], optionally only the rows in `index`, converted a
    chunk at a time so a memory-mapped file is never copied whole (the float set is 4x its bytes).
    `transpose` swaps H and W (STL-10 stores each channel column-major)."""
    rows = np.arange(len(x)) if index is None else np.asarray(index)
    shape = (len(rows), x.shape[1], *((x.shape[3], x.shape[2]) if transpose else x.shape[2:]))
    out = torch.empty(shape, dtype=torch.float32)
    for start in range(0, len(rows), CHUNK):
        chunk = np.asarray(x[rows[start : start + CHUNK]])
        if transpose:
            chunk = chunk.transpose(0, 1, 3, 2)
        out[start : start + CHUNK] = torch.from_numpy(chunk)  # copied into the float32 tensor
    return out.div_(255.0)


def labelled_pair(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    eval_fraction: float,
    split_seed: int,
    limit: int | None,
    transpose: bool = False,
) -> tuple[ImageSet, ImageSet]:
    """The fixed stratified split of ablate.data.base.split (the same images it would pick), cut
    on the uint8 arrays so only the kept images become float."""
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    # split only indexes the first axis, so an ImageSet of row numbers gives the rows it keeps
    rows = ImageSet(torch.arange(len(labels)), labels, name)
    halves = split(rows, eval_fraction, split_seed, limit)
    return tuple(ImageSet(to_images(x, h.images.numpy(), transpose), h.labels, name) for h in halves)


def pair_sizes(n_train: int, n_eval: int, limit: int | None, eval_fraction: float) -> tuple[int, int]:
    """Sizes of a dataset's own (train, eval) pair under data.limit: at most `limit` images in
    all, `eval_fraction` of them for eval (as `split` does), never more than there are."""
    if limit is None:
        return n_train, n_eval
    n_eval = min(n_eval, max(1, round(limit * eval_fraction)))
    return min(n_train, max(1, limit - n_eval)), n_eval
