"""Aggregation over training seeds (replicates) within each cell of the factor grid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def summarize(values: pd.Series) -> dict[str, float]:
    """mean, std (ddof=1), n and the 95% t confidence half-width of the finite values."""
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    n = len(x)
    mean = float(np.mean(x)) if n else math.nan
    std = float(np.std(x, ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "n": n, "ci95": half}


def cells(runs: pd.DataFrame, factors: list[str]) -> list[tuple[dict, pd.DataFrame]]:
    """(factor values, rows) per cell of the grid, in a stable order; one cell if no factors."""
    if not factors:
        return [({}, runs)]
    out = []
    for values, rows in runs.groupby(factors, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        out.append((dict(zip(factors, values, strict=True)), rows))
    return out
