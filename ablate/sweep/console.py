"""What a sweep prints at its end: its arms, one line each, with their key metrics (what a job
prints, its start and end lines and a single run's results, is ablate/job/lines.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ablate.config.metrics import Metric
from ablate.job.lines import aligned
from ablate.report.collect import registry


def arm_factors(factors: list[str]) -> list[str]:
    """A sweep's swept keys that make its arms (`+`/`~` stripped; seeds are replicates, not arms)."""
    return [k.lstrip("+~") for k in factors if k.lstrip("+~") != "seed"]


def key_metrics(runs: list[dict[str, Any]]) -> list[Metric]:
    """The key metrics (the registry's, with those the runs' tasks declared) that some finished run
    has, headline first."""
    done = [r["metrics"] for r in runs if r["status"] == "FINISHED"]
    return [m for m in registry(runs) if m.key and any(m.name in d for d in done)]


def sweep_table(runs: list[dict[str, Any]], factors: list[str], keys: list[Metric]) -> str:
    """The sweep's arms, one line each: runs finished of all, and each key metric's mean ± std
    over the arm's training seeds (the report has the intervals and tests). `keys`: key_metrics."""
    arms: dict[str, list[dict[str, Any]]] = {}
    factors = arm_factors(factors)
    for run in runs:
        params = run["params"]  # a group factor (data=mnist) is its option's name
        values = [f"{k.split('.')[-1]}={params.get(k, params.get(f'{k}.name', '?'))}" for k in factors]
        arms.setdefault(" ".join(values) or run["name"].split(" seed=")[0], []).append(run)
    keys = [m.name for m in keys]
    header = ["arm", "finished", *keys]
    rows = []
    for label, group in sorted(arms.items()):
        ok = [r["metrics"] for r in group if r["status"] == "FINISHED"]
        cells = []
        for key in keys:
            values = [m[key] for m in ok if key in m]
            std = f" ± {np.std(values, ddof=1):.2g}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.4g}{std}" if values else "—")
        rows.append([label, f"{len(ok)}/{len(group)}", *cells])
    return "\n".join(line.rstrip() for line in aligned([header, *rows]))
